package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// stepLog records the pipeline's steps in the order they complete.
type stepLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *stepLog) add(s string) { l.mu.Lock(); l.steps = append(l.steps, s); l.mu.Unlock() }
func (l *stepLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.steps...)
}

// stepWriter is the processor's EventWriter: it logs "alerts" or "state"
// once a write to that topic is acknowledged (a state write then also logs
// "covers N", its messages' CoversHeader), and fails state writes with
// an injected error while failState is set (a crash point between the
// alerts and the state).
type stepWriter struct {
	inner     *kafkax.Writer
	topics    schemas.KafkaTopics
	log       *stepLog
	mu        sync.Mutex
	failState bool
	failed    int
}

func (w *stepWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	step := "alerts"
	if msgs[0].Topic == w.topics.State {
		step = "state"
		w.mu.Lock()
		fail := w.failState
		if fail {
			w.failed++
		}
		w.mu.Unlock()
		if fail {
			return errors.New("injected: state changelog unavailable")
		}
	}
	if err := w.inner.WriteMessages(ctx, msgs...); err != nil {
		return err
	}
	w.log.add(step)
	if step == "state" {
		for _, h := range msgs[0].Headers {
			if h.Key == CoversHeader {
				w.log.add("covers " + string(h.Value))
			}
		}
	}
	return nil
}

func (w *stepWriter) stateFailures() int { w.mu.Lock(); defer w.mu.Unlock(); return w.failed }

// stepSink is a PointSink that logs "points" and keeps the points by key.
type stepSink struct {
	refusingSink
	log *stepLog
}

func (s *stepSink) Write(ctx context.Context, b []byte) error {
	if err := s.refusingSink.Write(ctx, b); err != nil {
		return err
	}
	s.log.add("points")
	return nil
}

// pipelineEnv is a kfake cluster with the processor's topics (one
// partition) whose OffsetCommit requests are logged as "commit N" (and
// refused with COORDINATOR_NOT_AVAILABLE while failCommit is set).
type pipelineEnv struct {
	failCommit atomic.Bool
	t          *testing.T
	ctx        context.Context
	topics     schemas.KafkaTopics
	brokers    []string
	w          *kafkax.Writer
	cl         *kafka.Client
	log        *stepLog
	base       time.Time
}

func newPipelineEnv(t *testing.T, ctx context.Context, prefix string) *pipelineEnv {
	t.Helper()
	e := &pipelineEnv{t: t, ctx: ctx, topics: schemas.Topics(prefix), log: &stepLog{},
		base: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, e.topics.Readings, e.topics.Alerts, e.topics.State))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(kmsg.OffsetCommit.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetCommitRequest)
		if e.failCommit.Load() {
			resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
			for _, tp := range req.Topics {
				rt := kmsg.NewOffsetCommitResponseTopic()
				rt.Topic = tp.Topic
				for _, p := range tp.Partitions {
					rp := kmsg.NewOffsetCommitResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p.Partition, kerr.CoordinatorNotAvailable.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			e.log.add("commit refused")
			return resp, nil, true
		}
		for _, tp := range req.Topics {
			for _, p := range tp.Partitions {
				e.log.add(fmt.Sprintf("commit %d", p.Offset))
			}
		}
		return nil, nil, false // observed only: the cluster handles it
	})
	e.brokers = c.ListenAddrs()
	e.w = kafkax.NewWriter(kafkax.WriterOptions{Brokers: e.brokers})
	t.Cleanup(func() { e.w.Close() })
	var closeCl func()
	e.cl, closeCl = kafkax.NewClient(e.brokers, nil)
	t.Cleanup(closeCl)
	return e
}

// produce writes readings seq from..to of station with level(seq).
func (e *pipelineEnv) produce(station string, from, to uint64, level func(uint64) float64) {
	e.t.Helper()
	var msgs []kafka.Message
	for seq := from; seq <= to; seq++ {
		rec := schemas.Record{V: 1, Station: station, Seq: seq, TS: e.base.Add(time.Duration(seq) * time.Second),
			Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: level(seq), Unit: "m"}}, ReceivedAt: time.Now().UTC()}
		b, err := json.Marshal(rec)
		if err != nil {
			e.t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: e.topics.Readings, Key: []byte(station), Value: b})
	}
	if err := e.w.WriteMessages(e.ctx, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// start runs a processor of group over the env's topics with writer and
// sink; stop cancels it (a soft stop bounded by stopTimeout) and returns
// Run's error.
func (e *pipelineEnv) start(group string, w EventWriter, sink PointSink, stopTimeout time.Duration) (stop func() error) {
	e.t.Helper()
	_, stop = e.startWith(group, w, sink, func(c *Config) { c.StopTimeout = stopTimeout })
	return stop
}

// startWith is start with the test's batch settings, then tune.
func (e *pipelineEnv) startWith(group string, w EventWriter, sink PointSink, tune func(*Config)) (*Processor, func() error) {
	e.t.Helper()
	return e.startDeps(group, Deps{Writer: w, Points: sink}, tune)
}

// startDeps is startWith with the writers and sink of d (the rest is the
// env's).
func (e *pipelineEnv) startDeps(group string, d Deps, tune func(*Config)) (*Processor, func() error) {
	e.t.Helper()
	reg := testRegistry(e.t)
	engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Group, cfg.SessionTimeout, cfg.BatchWait, cfg.BatchSize = group, 6*time.Second, 5*time.Millisecond, 40
	tune(&cfg)
	d.Brokers, d.Registry, d.Engine, d.Topics = e.brokers, reg, engine, e.topics
	p, err := New(cfg, d, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	return p, func() error { cancel(); return <-done }
}

// checkCovered fails the test if a commit in steps is above the highest
// CoversHeader of the state writes before it: a committed offset must
// never run ahead of the snapshot that covers it.
func checkCovered(t *testing.T, steps []string) {
	t.Helper()
	covers, commits := int64(-1), 0
	for i, s := range steps {
		if v, ok := strings.CutPrefix(s, "covers "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("step %d: bad covers header %q", i, v)
			}
			covers = max(covers, n)
		}
		if v, ok := strings.CutPrefix(s, "commit "); ok && v != "refused" {
			commits++
			if n, _ := strconv.ParseInt(v, 10, 64); n > covers {
				t.Errorf("step %d: commit %d ahead of the snapshot, which covers up to %d\n%v", i, n, covers, steps)
			}
		}
	}
	if commits == 0 {
		t.Errorf("no commit observed: %v", steps)
	}
}

func (e *pipelineEnv) wait(what string, cond func() bool) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// alertEvents reads every event of the alerts topic.
func (e *pipelineEnv) alertEvents() []schemas.AlertEvent {
	e.t.Helper()
	end := topicEnd(e.t, e.ctx, e.cl, e.topics.Alerts)
	if end == 0 {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: e.topics.Alerts, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []schemas.AlertEvent
	for int64(len(out)) < end {
		m, err := r.FetchMessage(e.ctx)
		if err != nil {
			e.t.Fatalf("read alerts: %v", err)
		}
		var ev schemas.AlertEvent
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			e.t.Fatalf("alert event at %d: %v", m.Offset, err)
		}
		out = append(out, ev)
	}
	return out
}

func calmLevel(seq uint64) float64 { return 4 + 0.0001*float64(seq) }

// TestPipelineStepOrder: the processor writes a state snapshot before
// every commit, and no commit runs ahead of the snapshot that covers it
// (checkCovered); every reading's point is stored. (The points of later
// batches may be stored between a snapshot and its commit: the pipeline
// goes on while a snapshot is written.)
func TestPipelineStepOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "order.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	stop := e.start("order-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, 10*time.Second)
	e.produce("ST-A", 1, 60, calmLevel)
	e.produce("ST-A", 61, 61, func(uint64) float64 { return 5.8 }) // level II: an alert
	e.produce("ST-B", 1, 60, calmLevel)
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("the commit to reach the end", func() bool { return committed(t, ctx, e.cl, "order-test", e.topics.Readings) == end })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	steps := e.log.snapshot()
	var commits, alerts int
	sinceCommit := map[string]bool{}
	for i, s := range steps {
		switch {
		case s == "points" || s == "alerts":
			sinceCommit[s] = true
			if s == "alerts" {
				alerts++
			}
		case s == "state":
			sinceCommit["state"] = true
		case strings.HasPrefix(s, "commit "):
			commits++
			if !sinceCommit["state"] {
				t.Errorf("step %d %q: committed without a state write since the last commit (%v)\n%v",
					i, s, sinceCommit, steps)
			}
			sinceCommit = map[string]bool{}
		}
	}
	if commits == 0 || alerts == 0 {
		t.Fatalf("%d commits and %d alert writes observed, want both: %v", commits, alerts, steps)
	}
	checkCovered(t, steps)
	if n := len(sink.snapshot("reading")); int64(n) != end {
		t.Errorf("%d reading points stored, want %d", n, end)
	}
}

// TestAlertWriterTakesTheAlerts: with an AlertWriter, the alert events
// go through it and only through it; the changelog through Writer.
func TestAlertWriterTakesTheAlerts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "alertw.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	states, alerts := &stepLog{}, &stepLog{}
	_, stop := e.startDeps("alertw-test", Deps{Points: sink, Writer: &stepWriter{inner: e.w, topics: e.topics, log: states},
		AlertWriter: &stepWriter{inner: e.w, topics: e.topics, log: alerts}}, func(*Config) {})
	e.produce("ST-A", 1, 30, calmLevel)
	e.produce("ST-A", 31, 31, func(uint64) float64 { return 5.8 }) // level II: an alert
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("the commit to reach the end", func() bool { return committed(t, ctx, e.cl, "alertw-test", e.topics.Readings) == end })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count := func(steps []string, what string) (n int) {
		for _, s := range steps {
			if s == what {
				n++
			}
		}
		return n
	}
	a, st := alerts.snapshot(), states.snapshot()
	if count(a, "alerts") == 0 || count(a, "state") != 0 {
		t.Errorf("AlertWriter wrote %v, want the alerts only", a)
	}
	if count(st, "state") == 0 || count(st, "alerts") != 0 {
		t.Errorf("Writer wrote %v, want the changelog only", st)
	}
	if evs := e.alertEvents(); len(evs) == 0 {
		t.Error("no alert event in the alerts topic")
	}
}

// TestPipelineCrashReplay: a processor crashes mid-batch, after the
// batch's points and alert event, before its state and commit (the state
// changelog refuses and the stop is hard, past StopTimeout). A new
// processor of the group replays from the last commit against the last
// saved state: every alert event of the first run is in `alerts` again or
// still, no event is lost, duplicates carry the same EventID, and the
// replayed points are the same points (one distinct point per record).
func TestPipelineCrashReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "crash.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}

	// Run 1: a calm batch is processed and committed normally.
	w1 := &stepWriter{inner: e.w, topics: e.topics, log: e.log}
	stop1 := e.start("crash-test", w1, sink, 200*time.Millisecond)
	e.produce("ST-A", 1, 30, calmLevel)
	e.wait("the first commit", func() bool { return committed(t, ctx, e.cl, "crash-test", e.topics.Readings) == 30 })
	// Then the changelog fails: the breach batch gets its points and alert
	// event out, then hangs on the state write; the stop is hard.
	w1.mu.Lock()
	w1.failState = true
	w1.mu.Unlock()
	e.produce("ST-A", 31, 31, func(uint64) float64 { return 5.8 })
	e.produce("ST-A", 32, 40, func(uint64) float64 { return 5.8 })
	e.wait("the alert event of the crashing batch", func() bool { return topicEnd(t, ctx, e.cl, e.topics.Alerts) > 0 })
	e.wait("the state write to fail", func() bool { return w1.stateFailures() > 0 })
	if err := stop1(); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
	if got := committed(t, ctx, e.cl, "crash-test", e.topics.Readings); got != 30 {
		t.Fatalf("committed %d after the crash, want 30 (the crashing batch uncommitted)", got)
	}
	before := e.alertEvents()
	if len(before) == 0 {
		t.Fatal("no alert event before the crash")
	}

	// Run 2: a new processor replays from the commit.
	stop2 := e.start("crash-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, 10*time.Second)
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("the replay to commit the end", func() bool { return committed(t, ctx, e.cl, "crash-test", e.topics.Readings) == end })
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
	after := e.alertEvents()
	byID := map[string]schemas.AlertEvent{}
	for _, ev := range after {
		if prev, dup := byID[ev.EventID]; dup && (prev.ID != ev.ID || prev.Kind != ev.Kind || prev.Level != ev.Level) {
			t.Errorf("EventID %s names two different events: %+v and %+v", ev.EventID, prev, ev)
		}
		byID[ev.EventID] = ev
	}
	for _, ev := range before {
		if _, ok := byID[ev.EventID]; !ok {
			t.Errorf("event %s of the first run lost", ev.EventID)
		}
	}
	fired := map[string]int{} // alert id -> distinct fired events
	for _, ev := range byID {
		if ev.Kind == schemas.AlertFired {
			fired[ev.ID]++
		}
	}
	if len(fired) == 0 {
		t.Errorf("no fired event after the replay: %v", after)
	}
	for id, n := range fired {
		if n != 1 {
			t.Errorf("alert %s fired %d times with different EventIDs, want once (a replay repeats the same EventID)", id, n)
		}
	}
	if len(after) == len(byID) {
		t.Errorf("no event repeated: the crashing batch was not replayed (%d events)", len(after))
	}
	pts := sink.snapshot("reading")
	if int64(len(pts)) != end {
		t.Errorf("%d distinct reading points, want %d (replayed points are the same points)", len(pts), end)
	}
	replayed := 0
	for _, n := range pts {
		if n > 1 {
			replayed++
		}
	}
	if replayed == 0 {
		t.Errorf("no point written twice: the crash did not replay the batch")
	}
	checkCovered(t, e.log.snapshot())
}

// blockingSink is a PointSink whose writes hang until release is closed
// (or their context ends); entered counts the writes begun.
type blockingSink struct {
	refusingSink
	release chan struct{}
	entered atomic.Int32
}

func (s *blockingSink) Write(ctx context.Context, b []byte) error {
	s.entered.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.refusingSink.Write(ctx, b)
}

// TestAlertNotBehindPoints: while the point write of a calm batch hangs
// (a slow InfluxDB), a breach in the next batch still has its alert event
// produced; the commit waits for the hanging points. Before the pipeline,
// a batch's points, state and commit came before the next batch was even
// fetched: the alert waited for the hanging write.
func TestAlertNotBehindPoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "ahead.")
	sink := &blockingSink{refusingSink: refusingSink{points: map[string]int{}}, release: make(chan struct{})}
	_, stop := e.startWith("ahead-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, func(c *Config) {
		c.SnapshotInterval = 50 * time.Millisecond
	})
	e.produce("ST-A", 1, 5, calmLevel)
	e.wait("the first point write to hang", func() bool { return sink.entered.Load() > 0 })
	e.produce("ST-A", 6, 9, func(uint64) float64 { return 5.8 })
	e.wait("the breach's alert event while the points hang", func() bool { return e.fired("ST-A", "level:water_level") })
	if got := committed(t, ctx, e.cl, "ahead-test", e.topics.Readings); got >= 0 {
		t.Errorf("committed %d while the first batch's points hang, want nothing committed", got)
	}
	close(sink.release)
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("the commit of the end once the points are stored", func() bool {
		return committed(t, ctx, e.cl, "ahead-test", e.topics.Readings) == end
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(sink.snapshot("reading")); int64(n) != end {
		t.Errorf("%d reading points stored, want %d", n, end)
	}
	checkCovered(t, e.log.snapshot())
}

// TestAlertNotHeldByTheBatch: a record that raises an alert hands its
// events to the alert lane as it is evaluated, so its event is produced at
// once, not after batch_wait (10 s here, the longest allowed) spent
// waiting for more records (four readings above level II, within which
// the level rule fires; the offline alerts the tick raises for the test's
// old timestamps do not count). Before batches were cut at alerts, the
// batch of the breach was evaluated only once batch_wait had passed: the
// alert came no earlier than 10 s after the breach.
func TestAlertNotHeldByTheBatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "cut.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	const batchWait = 10 * time.Second
	_, stop := e.startWith("cut-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, func(c *Config) {
		c.BatchWait, c.BatchSize = batchWait, 1000
	})
	e.produce("ST-A", 1, 1, calmLevel)
	e.wait("the first record's point", func() bool { return len(sink.snapshot("reading")) == 1 })
	breach := time.Now()
	e.produce("ST-A", 2, 5, func(uint64) float64 { return 5.8 })
	within, cancelWithin := context.WithDeadline(ctx, breach.Add(batchWait))
	defer cancelWithin()
	for !e.fired("ST-A", "level:water_level") {
		select {
		case <-within.Done():
			t.Fatalf("no alert event within batch_wait (%v) of the breach: the batch waited for more records", batchWait)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("the level alert fired %v after the breach", time.Since(breach))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// fired reports whether an alert of station and rule has fired.
func (e *pipelineEnv) fired(station, rule string) bool {
	for _, ev := range e.alertEvents() {
		if ev.Station == station && ev.Rule == rule && ev.Kind == schemas.AlertFired {
			return true
		}
	}
	return false
}
