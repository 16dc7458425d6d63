package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/processor/influxsink"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// refusingSink is a PointSink that refuses every write with
// influxsink.ErrSpoolFull while refusing is set, and otherwise counts the
// points it stores by key (measurement + tags + timestamp).
type refusingSink struct {
	mu       sync.Mutex
	refusing bool
	offered  int
	points   map[string]int
}

func (s *refusingSink) Write(_ context.Context, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offered++
	if s.refusing {
		return fmt.Errorf("test sink: %w", influxsink.ErrSpoolFull)
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		sp := bytes.IndexByte(line, ' ')
		ts := bytes.LastIndexByte(line, ' ')
		if sp < 0 || ts <= sp {
			return fmt.Errorf("test sink: malformed line %q", line)
		}
		s.points[string(line[:sp])+" "+string(line[ts+1:])]++
	}
	return nil
}

func (s *refusingSink) set(refusing bool) { s.mu.Lock(); s.refusing = refusing; s.mu.Unlock() }

func (s *refusingSink) offers() int { s.mu.Lock(); defer s.mu.Unlock(); return s.offered }

// snapshot returns the stored points of a measurement and their counts.
func (s *refusingSink) snapshot(measurement string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.points {
		if bytes.HasPrefix([]byte(k), []byte(measurement+",")) {
			out[k] = n
		}
	}
	return out
}

// topicEnd is the end offset of partition 0 of topic.
func topicEnd(t *testing.T, ctx context.Context, cl *kafka.Client, topic string) int64 {
	t.Helper()
	res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		t.Fatalf("list offsets %s: %v", topic, err)
	}
	ps := res.Topics[topic]
	if len(ps) != 1 || ps[0].Error != nil {
		t.Fatalf("list offsets %s: %+v", topic, ps)
	}
	return ps[0].LastOffset
}

// committed is the group's committed offset on partition 0 of topic (-1:
// none).
func committed(t *testing.T, ctx context.Context, cl *kafka.Client, group, topic string) int64 {
	t.Helper()
	res, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err == nil && errors.Is(res.Error, kafka.GroupIdNotFound) {
		// The group has not joined yet (kfake answers so until the first
		// JoinGroup; a fast poll can come first): nothing is committed.
		return -1
	}
	if err != nil || res.Error != nil {
		t.Fatalf("offset fetch: %v %v", err, res.Error)
	}
	ps := res.Topics[topic]
	if len(ps) != 1 {
		t.Fatalf("offset fetch: %+v", res.Topics)
	}
	return ps[0].CommittedOffset
}

// TestAlertsFlowWhileSinkRefuses (defect 5): with the point sink refusing
// every write (a full spool), the processor keeps going: a breach in a
// later batch still raises its alert, the state changelog advances, the
// landing gap counts the records whose points wait, and the commit stays
// at the first of them. Once the sink accepts, the waiting records are
// re-read from Kafka and every reading's point is stored exactly once,
// the alert's point too, and only then does the commit reach the end.
// Before the fix the first batch's points were retried forever: nothing
// after it was processed.
func TestAlertsFlowWhileSinkRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topics := schemas.Topics("landing.")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Readings, topics.Alerts, topics.State))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	defer w.Close()
	cl, closeCl := kafkax.NewClient(brokers, nil)
	defer closeCl()

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	produce := func(station string, from, to uint64, level func(uint64) float64) {
		t.Helper()
		var msgs []kafka.Message
		for seq := from; seq <= to; seq++ {
			rec := schemas.Record{V: 1, Station: station, Seq: seq, TS: base.Add(time.Duration(seq) * time.Second),
				Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: level(seq), Unit: "m"}}, ReceivedAt: time.Now().UTC()}
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Topic: topics.Readings, Key: []byte(station), Value: b})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	calm := func(seq uint64) float64 { return 4 + 0.0001*float64(seq) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	reg := testRegistry(t)
	engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	if err != nil {
		t.Fatal(err)
	}
	sink := &refusingSink{refusing: true, points: map[string]int{}}
	var evMu sync.Mutex
	var events []schemas.AlertEvent
	cfg := DefaultConfig()
	cfg.Group, cfg.SessionTimeout, cfg.BatchWait, cfg.BatchSize = "landing-test", 6*time.Second, 5*time.Millisecond, 40
	p, err := New(cfg, Deps{Brokers: brokers, Registry: reg, Engine: engine, Points: sink, Writer: w, Topics: topics,
		OnEvent: func(e schemas.AlertEvent) { evMu.Lock(); events = append(events, e); evMu.Unlock() }},
		slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()

	// 1. A first batch the sink refuses.
	produce("ST-A", 1, 100, calm)
	wait("the sink to refuse a batch", func() bool { return sink.offers() > 0 })
	// 2. Later: more calm readings, a breach of level II, another station.
	produce("ST-B", 1, 100, calm)
	produce("ST-A", 101, 101, func(uint64) float64 { return 5.8 })
	end := topicEnd(t, ctx, cl, topics.Readings)
	if end != 201 {
		t.Fatalf("readings end offset %d, want 201", end)
	}
	wait("the breach's alert while the sink refuses", func() bool {
		evMu.Lock()
		defer evMu.Unlock()
		return len(events) > 0
	})
	wait("every record processed into the landing gap", func() bool { return p.LandingGap() == end })
	if n := topicEnd(t, ctx, cl, topics.Alerts); n < 1 {
		t.Fatalf("alerts topic end %d: the alert event was not produced", n)
	}
	// The states are saved at the next snapshot (snapshot_interval).
	wait("the state changelog to advance while the sink refuses", func() bool { return topicEnd(t, ctx, cl, topics.State) >= 2 })
	if got := committed(t, ctx, cl, cfg.Group, topics.Readings); got > 0 {
		t.Fatalf("committed offset %d while no point was stored; want none past offset 0", got)
	}
	if pts := sink.snapshot("reading"); len(pts) != 0 {
		t.Fatalf("%d points stored by a refusing sink", len(pts))
	}

	// 3. The sink accepts again: the waiting records land, the commit follows.
	sink.set(false)
	wait("the landing gap to close", func() bool { return p.LandingGap() == 0 })
	wait("the commit to reach the end", func() bool { return committed(t, ctx, cl, cfg.Group, topics.Readings) == end })
	pts := sink.snapshot("reading")
	if int64(len(pts)) != end {
		t.Errorf("%d distinct reading points stored, want %d (one per record)", len(pts), end)
	}
	for k, n := range pts {
		if n != 1 {
			t.Errorf("point %s stored %d times, want once", k, n)
		}
	}
	if al := sink.snapshot("alert"); len(al) != 1 {
		t.Errorf("alert points %v, want the one alert", al)
	}
	// Back to direct writes: a new reading is stored and committed.
	produce("ST-B", 101, 101, calm)
	wait("the commit after a direct write", func() bool { return committed(t, ctx, cl, cfg.Group, topics.Readings) == end+1 })
	if n := len(sink.snapshot("reading")); int64(n) != end+1 {
		t.Errorf("%d reading points after the direct write, want %d", n, end+1)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
