package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testRegistry(t *testing.T) *schemas.Registry {
	t.Helper()
	reg, err := schemas.NewRegistry([]schemas.Station{
		{ID: "ST-A", Name: "A", Basin: "b", District: "d", Lat: 16, Lon: 108, Interval: 10 * time.Minute,
			Sensors: []schemas.Sensor{schemas.WaterLevel}, AlarmLevelsM: schemas.Levels{I: 5, II: 5.5, III: 7}},
		{ID: "ST-B", Name: "B", Basin: "b", District: "d", Lat: 16, Lon: 108, Interval: 10 * time.Minute,
			Sensors: []schemas.Sensor{schemas.WaterLevel}, AlarmLevelsM: schemas.Levels{I: 5, II: 5.5, III: 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"group", func(c *Config) { c.Group = "" }, "processor.group"},
		{"batch size", func(c *Config) { c.BatchSize = 0 }, "processor.batch_size"},
		{"batch wait", func(c *Config) { c.BatchWait = time.Minute }, "processor.batch_wait"},
		{"tick", func(c *Config) { c.TickInterval = time.Millisecond }, "processor.tick_interval"},
		{"session", func(c *Config) { c.SessionTimeout = time.Second }, "processor.session_timeout"},
		{"stop", func(c *Config) { c.StopTimeout = 0 }, "processor.stop_timeout"},
		{"snapshot interval short", func(c *Config) { c.SnapshotInterval = time.Millisecond }, "processor.snapshot_interval"},
		{"snapshot interval long", func(c *Config) { c.SnapshotInterval = time.Hour }, "processor.snapshot_interval"},
		{"snapshot records", func(c *Config) { c.SnapshotRecords = 0 }, "processor.snapshot_records"},
		{"in flight zero", func(c *Config) { c.MaxInFlight = 0 }, "processor.max_in_flight"},
		{"in flight many", func(c *Config) { c.MaxInFlight = 65 }, "processor.max_in_flight"},
	}
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.key)
			}
		})
	}
}

func TestViewKeepsLastAndRecent(t *testing.T) {
	v := NewView(testRegistry(t), 3)
	base := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		rec := schemas.Record{Station: "ST-A", Seq: uint64(i + 1), TS: base.Add(time.Duration(i) * time.Minute),
			Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: float64(i), Unit: "m"}}}
		v.observe(&rec, []int{1})
	}
	// An older reading arriving late does not replace the last value.
	old := schemas.Record{Station: "ST-A", Seq: 99, TS: base.Add(-time.Hour),
		Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 42, Unit: "m"}}}
	v.observe(&old, nil)
	var a StationStatus
	for _, s := range v.Stations() {
		if s.ID == "ST-A" {
			a = s
		}
	}
	if a.LastSeq != 5 || a.Values[schemas.WaterLevel].Value != 4 {
		t.Fatalf("last: seq %d value %v, want 5 and 4", a.LastSeq, a.Values[schemas.WaterLevel].Value)
	}
	rec := v.Recent("ST-A", schemas.WaterLevel, time.Time{})
	if len(rec) != 3 {
		t.Fatalf("recent: %d values, want the bound 3", len(rec))
	}
	if got := v.Recent("ST-A", schemas.WaterLevel, base.Add(4*time.Minute)); len(got) != 1 || got[0].Value != 4 {
		t.Fatalf("recent since: %+v", got)
	}
	if v.Recent("NOPE", schemas.WaterLevel, time.Time{}) != nil {
		t.Fatal("unknown station has recent values")
	}
}

// TestViewEachSeenAndStation: the keys EachSeen gives and the station
// Station returns are what Stations lists, station by station.
func TestViewEachSeenAndStation(t *testing.T) {
	v := NewView(testRegistry(t), 3)
	base := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	rec := schemas.Record{Station: "ST-A", Seq: 7, TS: base,
		Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 4.5, Unit: "m"}}}
	v.observe(&rec, []int{1})
	listed := v.Stations()
	seen := map[string]bool{}
	v.EachSeen(func(id string, seq uint64, last *time.Time) {
		seen[id] = true
		for _, x := range listed {
			if x.ID != id {
				continue
			}
			if x.LastSeq != seq || (x.LastSeen == nil) != (last == nil) || (last != nil && !x.LastSeen.Equal(*last)) {
				t.Errorf("%s: EachSeen gives seq %d seen %v, Stations %d %v", id, seq, last, x.LastSeq, x.LastSeen)
			}
		}
	})
	if len(seen) != len(listed) {
		t.Errorf("EachSeen gave %d stations, Stations lists %d", len(seen), len(listed))
	}
	for _, x := range listed {
		got, ok := v.Station(x.ID)
		if !ok || got.LastSeq != x.LastSeq || len(got.Values) != len(x.Values) || got.Values[schemas.WaterLevel] != x.Values[schemas.WaterLevel] {
			t.Errorf("Station(%s) = %+v, %v; Stations lists %+v", x.ID, got, ok, x)
		}
	}
	if a, _ := v.Station("ST-A"); a.LastSeq != 7 || a.Values[schemas.WaterLevel].Value != 4.5 {
		t.Errorf("ST-A: %+v", a)
	}
	if _, ok := v.Station("NOPE"); ok {
		t.Error("an unknown station is found")
	}
}

// recordingSink is a PointSink that records writes and can fail.
type recordingSink struct {
	mu    sync.Mutex
	fails int
	lines [][]byte
	// order and orderMu are shared with orderWriter.
	order   *[]string
	orderMu *sync.Mutex
}

func (s *recordingSink) Write(_ context.Context, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails > 0 {
		s.fails--
		return errors.New("sink down")
	}
	s.lines = append(s.lines, append([]byte(nil), b...))
	s.orderMu.Lock()
	*s.order = append(*s.order, "points")
	s.orderMu.Unlock()
	return nil
}

func (s *recordingSink) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.lines {
		n += bytes.Count(b, []byte(sub))
	}
	return n
}

// orderWriter records which topics were written, in order.
type orderWriter struct {
	w     *kafkax.Writer
	mu    *sync.Mutex
	order *[]string
}

func (o orderWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if err := o.w.WriteMessages(ctx, msgs...); err != nil {
		return err
	}
	o.mu.Lock()
	*o.order = append(*o.order, msgs[0].Topic)
	o.mu.Unlock()
	return nil
}

// TestProcessorAgainstKafka runs the processor on the real Kafka: the
// alert comes before the state, a failing point sink holds back the commit
// (but not the alert or the state) until its points are landed, and a
// second processor instance in the same group restores the station state
// from the changelog, so the replayed and the new readings raise no second
// alert.
func TestProcessorAgainstKafka(t *testing.T) {
	env := testenv.RequireKafka(t)
	name := testenv.UniqueName(t, "proc")
	topics := schemas.Topics(name + ".")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := kafkax.EnsureTopics(ctx, env.KafkaBrokers, nil,
		kafkax.TopicSpec{Name: topics.Readings, Partitions: 2, ReplicationFactor: 1},
		kafkax.TopicSpec{Name: topics.Alerts, Partitions: 2, ReplicationFactor: 1},
		kafkax.TopicSpec{Name: topics.State, Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}})
	if err != nil {
		t.Fatal(err)
	}
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: env.KafkaBrokers})
	defer w.Close()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	produce := func(station string, seq uint64, level float64) {
		rec := schemas.Record{V: 1, Station: station, Seq: seq, TS: base.Add(time.Duration(seq) * time.Minute),
			Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: level, Unit: "m"}}, ReceivedAt: time.Now().UTC()}
		b, _ := json.Marshal(rec)
		if err := w.WriteMessages(ctx, kafka.Message{Topic: topics.Readings, Key: []byte(station), Value: b}); err != nil {
			t.Fatal(err)
		}
	}
	reg := testRegistry(t)
	var mu sync.Mutex
	var order []string
	run := func(sink *recordingSink) (stop func(), p *Processor) {
		engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Group, cfg.SessionTimeout, cfg.BatchWait = name, 6*time.Second, 5*time.Millisecond
		p, err = New(cfg, Deps{Brokers: env.KafkaBrokers, Registry: reg, Engine: engine, Points: sink,
			Writer: orderWriter{w: w, mu: &mu, order: &order}, Topics: topics}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		pctx, pcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()
		return func() {
			pcancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}, p
	}

	// 1. The sink fails 3 times before it accepts the first batch.
	for seq := uint64(1); seq <= 5; seq++ {
		produce("ST-A", seq, 4.8+0.001*float64(seq))
	}
	produce("ST-A", 6, 5.6) // above II: fires
	sink1 := &recordingSink{fails: 3, order: &order, orderMu: &mu}
	stop1, _ := run(sink1)
	waitFor(t, ctx, func() bool { return sink1.count("reading,") >= 6 })
	waitFor(t, ctx, func() bool { return countAlerts(t, ctx, env.KafkaBrokers, topics.Alerts, "level:water_level") >= 1 })
	stop1()
	mu.Lock()
	got := strings.Join(order, ",")
	mu.Unlock()
	// The alert before the state changelog; the refused points did not
	// hold either up (they were landed later, before the commit).
	ip, ia, is := strings.Index(got, "points"), strings.Index(got, topics.Alerts), strings.Index(got, topics.State)
	if ip < 0 || ia < 0 || is < 0 || !(ia < is) {
		t.Fatalf("pipeline order %q: want %s before %s, and points", got, topics.Alerts, topics.State)
	}

	// 2. A new instance in the same group: it restores ST-A's state, so
	// more readings above II raise no second alert; committed readings
	// are not processed again.
	produce("ST-A", 7, 5.61)
	produce("ST-B", 1, 4.8)
	sink2 := &recordingSink{order: &order, orderMu: &mu}
	stop2, _ := run(sink2)
	waitFor(t, ctx, func() bool { return sink2.count("reading,") >= 2 })
	stop2()
	if n := sink2.count("reading,"); n != 2 {
		t.Errorf("second instance wrote %d readings, want the 2 uncommitted ones", n)
	}
	if n := countAlerts(t, ctx, env.KafkaBrokers, topics.Alerts, "level:water_level"); n != 1 {
		t.Fatalf("level alert events: %d, want exactly 1 across the restart", n)
	}
}

func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func countAlerts(t *testing.T, ctx context.Context, brokers []string, topic, rule string) int {
	t.Helper()
	n := 0
	for p := 0; p < 2; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		r.SetOffset(first)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ev schemas.AlertEvent
			if json.Unmarshal(m.Value, &ev) == nil && ev.Rule == rule {
				n++
			}
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return n
}
