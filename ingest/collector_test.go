package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

var testNow = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

const (
	stA = "DN-HOAPHUOC"
	stB = "DN-CAMLE"
)

func testRegistry(t testing.TB) *schemas.Registry {
	t.Helper()
	r, err := schemas.NewRegistry([]schemas.Station{
		{ID: stA, Name: "Hoà Phước", River: "Vu Gia", Basin: "vu-gia-thu-bon", District: "Hoà Vang", Lat: 15.95, Lon: 108.2,
			Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall},
			AlarmLevelsM: schemas.Levels{I: 2, II: 3, III: 4}},
		{ID: stB, Name: "Cẩm Lệ", River: "Cẩm Lệ", Basin: "vu-gia-thu-bon", District: "Cẩm Lệ", Lat: 16.0, Lon: 108.19,
			Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testConfig() Config {
	c := DefaultConfig()
	c.URL = "tcp://127.0.0.1:1883"
	c.ClientID = "test-collector"
	c.MaxUndelivered = 16
	c.BatchSize = 8
	c.BatchWait = 0
	return c
}

func readingTopic(st string) string { return fmt.Sprintf(schemas.TopicReadingsFmt, st) }

// payload is a v1 device message with one water level reading.
func payload(st string, seq uint64, ts time.Time, level float64, unit string) []byte {
	return []byte(fmt.Sprintf(`{"v":1,"station":%q,"seq":%d,"boot":2,"ts":%q,"readings":[{"sensor":"water_level","value":%g,"unit":%q}]}`,
		st, seq, ts.Format(time.RFC3339), level, unit))
}

// harness runs one collector with fakes.
type harness struct {
	c      *Collector
	client *fakeClient
	w      *fakeWriter
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, w *fakeWriter) *harness {
	t.Helper()
	h := &harness{client: newFakeClient(), w: w, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	deps := Deps{
		Registry:  testRegistry(t),
		Writer:    w,
		NewClient: func(Config, *slog.Logger) (Client, error) { return h.client, nil },
		Now:       func() time.Time { return testNow },
	}
	c, err := New(cfg, deps, discardLogger(), h.reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- c.Run(ctx) }()
	select {
	case <-h.client.connected:
	case err := <-h.done:
		t.Fatalf("Run returned before connecting: %v", err)
	case <-time.After(failDeadline):
		t.Fatal("collector never connected")
	}
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop cancels Run and waits for it to return nil and disconnect.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(h.done)
		}
	case <-time.After(failDeadline):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-h.client.disconnected:
	default:
		t.Error("Run returned without disconnecting the MQTT client")
	}
}

// toFloat64 is prometheus/testutil.ToFloat64 (whose diff dependency is not
// in go.sum): the value of a collector holding exactly one series.
func toFloat64(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	var ms []prometheus.Metric
	for m := range ch {
		ms = append(ms, m)
	}
	if len(ms) != 1 {
		t.Fatalf("collector holds %d series, want 1", len(ms))
	}
	var pb dto.Metric
	if err := ms[0].Write(&pb); err != nil {
		t.Fatal(err)
	}
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	case pb.Untyped != nil:
		return pb.Untyped.GetValue()
	}
	t.Fatalf("metric is not a counter or gauge: %v", &pb)
	return 0
}

// countSeries counts the series of the named metric families in reg.
func countSeries(t *testing.T, reg *prometheus.Registry, names ...string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, name := range names {
			if mf.GetName() == name {
				n += len(mf.GetMetric())
			}
		}
	}
	return n
}

// gauge reads a gauge (or gauge func) from the registry.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && mf.GetType() == dto.MetricType_GAUGE && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("gauge %s not registered", name)
	return 0
}

func TestValidMessagesGoToReadingsKeyedByStation(t *testing.T) {
	ts := testNow.Add(-time.Minute)
	cases := []struct {
		name    string
		topic   string
		payload []byte
		want    []schemas.Record // V, Station, Seq, Boot, TS, Readings, Format checked
	}{
		{
			name: "single reading", topic: readingTopic(stA), payload: payload(stA, 1042, ts, 2.5, "m"),
			want: []schemas.Record{{Station: stA, Seq: 1042, Boot: 2, TS: ts,
				Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 2.5, Unit: "m"}}}},
		},
		{
			name: "unit converted to canonical", topic: readingTopic(stB), payload: payload(stB, 7, ts, 250, "cm"),
			want: []schemas.Record{{Station: stB, Seq: 7, Boot: 2, TS: ts,
				Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 2.5, Unit: "m"}}}},
		},
		{
			name: "batch array becomes one record per message", topic: readingTopic(stA),
			payload: []byte("[" + string(payload(stA, 10, ts, 1.25, "m")) + "," + string(payload(stA, 11, ts.Add(time.Second), 1.5, "m")) + "]"),
			want: []schemas.Record{
				{Station: stA, Seq: 10, Boot: 2, TS: ts, Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 1.25, Unit: "m"}}},
				{Station: stA, Seq: 11, Boot: 2, TS: ts.Add(time.Second), Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 1.5, Unit: "m"}}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWriter()
			h := start(t, testConfig(), w)
			m := ackChecksWrite(newMsg(tc.topic, tc.payload), w, tc.want[0].Station, tc.want[0].Seq)
			h.client.deliver(m)
			waitAcked(t, m)
			if !m.writtenAtAck.Load() {
				t.Fatal("message acknowledged before a Kafka write carrying it returned nil")
			}
			got := w.written()
			if len(got) != len(tc.want) {
				t.Fatalf("wrote %d Kafka messages, want %d: %v", len(got), len(tc.want), got)
			}
			for i, km := range got {
				want := tc.want[i]
				if km.Topic != schemas.KafkaReadings {
					t.Errorf("msg %d topic %q, want %q", i, km.Topic, schemas.KafkaReadings)
				}
				if string(km.Key) != want.Station {
					t.Errorf("msg %d key %q, want station %q", i, km.Key, want.Station)
				}
				var r schemas.Record
				if err := json.Unmarshal(km.Value, &r); err != nil {
					t.Fatalf("msg %d value is not a Record: %v: %s", i, err, km.Value)
				}
				if r.V != schemas.RecordVersion || r.Station != want.Station || r.Seq != want.Seq || r.Boot != want.Boot ||
					!r.TS.Equal(want.TS) || r.Format != "v1" || !r.ReceivedAt.Equal(testNow) {
					t.Errorf("msg %d record = %+v, want %+v (v1, received %s)", i, r, want, testNow)
				}
				if fmt.Sprint(r.Readings) != fmt.Sprint(want.Readings) {
					t.Errorf("msg %d readings %v, want %v", i, r.Readings, want.Readings)
				}
			}
			if n := m.acks.Load(); n != 1 {
				t.Errorf("acked %d times, want once", n)
			}
			h.stop(t)
			if v := toFloat64(t, h.c.m.messages.WithLabelValues("accepted")); v != 1 {
				t.Errorf("messages_total{accepted} = %v, want 1", v)
			}
			if v := toFloat64(t, h.c.m.records); v != float64(len(tc.want)) {
				t.Errorf("records_total = %v, want %d", v, len(tc.want))
			}
			if v := gauge(t, h.reg, "resilience_ingest_undelivered"); v != 0 {
				t.Errorf("undelivered = %v after every message was acked, want 0", v)
			}
		})
	}
}

func TestInvalidMessagesGoToDLQWithReason(t *testing.T) {
	ts := testNow.Add(-time.Minute)
	big := []byte(`{"v":1,"station":"` + stA + `","pad":"` + strings.Repeat("x", 300) + `"}`)
	cases := []struct {
		name    string
		topic   string
		payload []byte
		key     string
		reason  schemas.Reason
	}{
		{"bad json", readingTopic(stA), []byte(`{"v":1,"station":`), stA, schemas.ReasonBadJSON},
		{"unknown station", readingTopic("XX-NOWHERE"), payload("XX-NOWHERE", 1, ts, 1, "m"), "XX-NOWHERE", schemas.ReasonUnknownStation},
		{"station mismatch", readingTopic(stA), payload(stB, 1, ts, 1, "m"), stA, schemas.ReasonStationMismatch},
		{"out of bounds", readingTopic(stA), payload(stA, 1, ts, 500, "m"), stA, schemas.ReasonOutOfBounds},
		{"future timestamp", readingTopic(stA), payload(stA, 1, testNow.Add(time.Hour), 1, "m"), stA, schemas.ReasonFutureTS},
		{"oversize", readingTopic(stA), big, stA, schemas.ReasonOversize},
		{"bad station id in topic", "stations/a+b/readings", payload(stA, 1, ts, 1, "m"), "", schemas.ReasonBadStationID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxPayload = 256
			w := newFakeWriter()
			h := start(t, cfg, w)
			m := ackChecksWrite(newMsg(tc.topic, tc.payload), w, "", 0)
			h.client.deliver(m)
			waitAcked(t, m)
			if !m.writtenAtAck.Load() {
				t.Fatal("rejected message acknowledged before its dead letter was written")
			}
			got := w.written()
			if len(got) != 1 {
				t.Fatalf("wrote %d Kafka messages, want 1 dead letter: %v", len(got), got)
			}
			km := got[0]
			if km.Topic != schemas.KafkaDLQ {
				t.Fatalf("topic %q, want %q", km.Topic, schemas.KafkaDLQ)
			}
			if string(km.Key) != tc.key {
				t.Errorf("key %q, want %q", km.Key, tc.key)
			}
			if len(km.Headers) != 1 || km.Headers[0].Key != "reason" || string(km.Headers[0].Value) != string(tc.reason) {
				t.Errorf("headers %v, want reason=%s", km.Headers, tc.reason)
			}
			var dl schemas.DeadLetter
			if err := json.Unmarshal(km.Value, &dl); err != nil {
				t.Fatalf("value is not a DeadLetter: %v: %s", err, km.Value)
			}
			if dl.V != schemas.DeadLetterVersion || dl.Reason != tc.reason || dl.Topic != tc.topic ||
				string(dl.Payload) != string(tc.payload) || !dl.ReceivedAt.Equal(testNow) || dl.Collector != cfg.ClientID || dl.Detail == "" {
				t.Errorf("dead letter = %+v, want v1 reason %s topic %s with the original %d bytes", dl, tc.reason, tc.topic, len(tc.payload))
			}
			h.stop(t)
			if v := toFloat64(t, h.c.m.rejected.WithLabelValues(string(tc.reason))); v != 1 {
				t.Errorf("rejected_total{reason=%s} = %v, want 1", tc.reason, v)
			}
			for _, r := range schemas.DeadLetterReasons() {
				if r != tc.reason {
					if v := toFloat64(t, h.c.m.rejected.WithLabelValues(string(r))); v != 0 {
						t.Errorf("rejected_total{reason=%s} = %v, want 0", r, v)
					}
				}
			}
			if v := toFloat64(t, h.c.m.messages.WithLabelValues("rejected")); v != 1 {
				t.Errorf("messages_total{rejected} = %v, want 1", v)
			}
			if v := toFloat64(t, h.c.m.records); v != 0 {
				t.Errorf("records_total = %v, want 0", v)
			}
		})
	}
}

// The rejected counter is registered and pre-declared for every reason, so
// dashboards see zeros rather than missing series.
func TestRejectedMetricRegisteredForEveryReason(t *testing.T) {
	w := newFakeWriter()
	h := start(t, testConfig(), w)
	h.stop(t)
	n := countSeries(t, h.reg, "resilience_ingest_rejected_total", "resilience_ingest_undelivered")
	if want := len(schemas.DeadLetterReasons()) + 1; n != want {
		t.Fatalf("registry holds %d series of the two metrics, want %d", n, want)
	}
	n = countSeries(t, h.reg, "resilience_ingest_kafka_refused_total", "resilience_ingest_dropped_total")
	if want := 2 * len(kafkax.RefusalReasons()); n != want {
		t.Fatalf("registry holds %d series of the refusal metrics, want %d", n, want)
	}
}

func TestMixedBatchAllAckedAfterOneWrite(t *testing.T) {
	cfg := testConfig()
	cfg.BatchSize = 4
	cfg.BatchWait = time.Second // the batch fills to 4 long before this
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	msgs := []*fakeMsg{
		newMsg(readingTopic(stA), payload(stA, 1, ts, 1, "m")),
		newMsg(readingTopic(stA), []byte("not json")),
		newMsg(readingTopic(stB), payload(stB, 2, ts, 1, "m")),
		newMsg(readingTopic(stB), payload(stB, 3, ts, -80, "m")),
	}
	for _, m := range msgs {
		h.client.deliver(m)
	}
	c := <-w.calls
	if len(c.msgs) != 4 {
		t.Fatalf("one batch of 4 expected, write carried %d", len(c.msgs))
	}
	for i, m := range msgs {
		if m.isAcked() {
			t.Fatalf("message %d acknowledged while its write is in flight", i)
		}
	}
	topics := []string{c.msgs[0].Topic, c.msgs[1].Topic, c.msgs[2].Topic, c.msgs[3].Topic}
	want := []string{schemas.KafkaReadings, schemas.KafkaDLQ, schemas.KafkaReadings, schemas.KafkaDLQ}
	if fmt.Sprint(topics) != fmt.Sprint(want) {
		t.Errorf("topics %v, want %v (message order kept)", topics, want)
	}
	c.reply <- nil
	waitAcked(t, msgs...)
}

func TestWriterFailuresHoldAcksUntilSuccess(t *testing.T) {
	const fails = 3
	cfg := testConfig()
	cfg.StationMaxUndelivered = cfg.MaxUndelivered // all five from one station
	cfg.BatchSize = 5
	cfg.BatchWait = time.Second // the batch fills to 5 long before this
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	var msgs []*fakeMsg
	for i := range 5 {
		m := ackChecksWrite(newMsg(readingTopic(stA), payload(stA, uint64(100+i), ts, 1, "m")), w, stA, uint64(100+i))
		msgs = append(msgs, m)
		h.client.deliver(m)
	}
	var first []kafka.Message
	for attempt := 1; attempt <= fails; attempt++ {
		c := <-w.calls
		for i, m := range msgs {
			if m.isAcked() {
				t.Fatalf("attempt %d: message %d acknowledged while Kafka is failing", attempt, i)
			}
		}
		if attempt == 1 {
			first = c.msgs
		} else if fmt.Sprint(c.msgs) != fmt.Sprint(first) {
			t.Fatalf("attempt %d rewrote a different batch:\n%v\nwant\n%v", attempt, c.msgs, first)
		}
		if v := gauge(t, h.reg, "resilience_ingest_undelivered"); v != 5 {
			t.Errorf("attempt %d: undelivered = %v, want 5", attempt, v)
		}
		c.reply <- errBrokerDown
	}
	c := <-w.calls
	if len(c.msgs) != 5 {
		t.Fatalf("final attempt carried %d messages, want 5", len(c.msgs))
	}
	for i, m := range msgs {
		if m.isAcked() {
			t.Fatalf("message %d acknowledged before the successful write returned", i)
		}
	}
	c.reply <- nil
	waitAcked(t, msgs...)
	for i, m := range msgs {
		if !m.writtenAtAck.Load() {
			t.Errorf("message %d acknowledged before its record was written", i)
		}
		if n := m.acks.Load(); n != 1 {
			t.Errorf("message %d acked %d times", i, n)
		}
	}
	h.stop(t)
	if v := toFloat64(t, h.c.m.produceErrors); v != fails {
		t.Errorf("produce_errors_total = %v, want %d", v, fails)
	}
	if v := toFloat64(t, h.c.m.records); v != 5 {
		t.Errorf("records_total = %v, want 5 (a retried batch counts once)", v)
	}
}

// The non-scripted failFirst mode: the collector keeps retrying on its own.
func TestWriterFailFirstNThenAllAcked(t *testing.T) {
	w := newFakeWriter()
	w.failFirst = 2
	h := start(t, testConfig(), w)
	ts := testNow.Add(-time.Minute)
	var msgs []*fakeMsg
	for i := range 3 {
		m := ackChecksWrite(newMsg(readingTopic(stB), payload(stB, uint64(i), ts, 1, "m")), w, stB, uint64(i))
		msgs = append(msgs, m)
		h.client.deliver(m)
	}
	waitAcked(t, msgs...)
	for i, m := range msgs {
		if !m.writtenAtAck.Load() {
			t.Errorf("message %d acknowledged before its record was written", i)
		}
	}
	if n := w.callCount(); n < 3 {
		t.Errorf("writer called %d times; the 2 failures must be retried", n)
	}
}

// With MaxUndelivered=K and Kafka stuck, the handler takes K messages and
// then blocks: the (K+1)th handle call returns only after the writer
// unblocks, so the broker keeps the rest.
func TestBackpressureBlocksHandlerAfterMaxUndelivered(t *testing.T) {
	const K = 4
	cfg := testConfig()
	cfg.MaxUndelivered = K
	cfg.StationMaxUndelivered = K // one station may take every slot here
	cfg.BatchSize = 2
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	msgs := make([]*fakeMsg, K+1)
	for i := range msgs {
		msgs[i] = newMsg(readingTopic(stA), payload(stA, uint64(i), ts, 1, "m"))
	}
	var released atomic.Bool
	returned := make(chan int, K+1)
	lateReturnOK := make(chan bool, 1)
	go func() {
		for i, m := range msgs {
			h.client.deliver(m)
			if i == K {
				lateReturnOK <- released.Load()
			}
			returned <- i
		}
	}()
	for range K {
		select {
		case <-returned:
		case <-time.After(failDeadline):
			t.Fatal("the first K handle calls must return while the writer is blocked")
		}
	}
	first := <-w.calls // the writer holds the first batch
	if v := gauge(t, h.reg, "resilience_ingest_undelivered"); v != K {
		t.Errorf("undelivered = %v, want %d", v, K)
	}
	// Give a wrong implementation every chance to let the (K+1)th call
	// through; a correct one keeps it blocked however long this is.
	select {
	case i := <-returned:
		t.Fatalf("handle call %d returned while %d messages wait unacknowledged and the writer is blocked", i+1, K)
	case <-time.After(200 * time.Millisecond):
	}
	for i, m := range msgs {
		if m.isAcked() {
			t.Fatalf("message %d acked while the writer is blocked", i)
		}
	}
	released.Store(true)
	first.reply <- nil
	// Later writes succeed.
	stopReplies := make(chan struct{})
	repliesDone := make(chan struct{})
	go func() {
		defer close(repliesDone)
		for {
			select {
			case c := <-w.calls:
				c.reply <- nil
			case <-stopReplies:
				return
			}
		}
	}()
	defer func() { close(stopReplies); <-repliesDone }()
	select {
	case ok := <-lateReturnOK:
		if !ok {
			t.Fatal("the (K+1)th handle call returned before the writer unblocked")
		}
	case <-time.After(failDeadline):
		t.Fatal("the (K+1)th handle call never returned after the writer unblocked")
	}
	<-returned
	waitAcked(t, msgs...)
}

// Cancelling Run while messages wait behind a stuck writer: the batch in
// hand is finished (soft stop) and acknowledged because it was written; the
// message blocked in the handler is never acknowledged, and its handle call
// returns (the MQTT client's goroutine is not leaked).
func TestCancelDoesNotAckUnwrittenMessages(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUndelivered = 1
	cfg.BatchSize = 1
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	m1 := ackChecksWrite(newMsg(readingTopic(stA), payload(stA, 1, ts, 1, "m")), w, stA, 1)
	m2 := newMsg(readingTopic(stA), payload(stA, 2, ts, 1, "m"))
	h.client.deliver(m1)
	c := <-w.calls
	blocked := make(chan struct{})
	go func() { h.client.deliver(m2); close(blocked) }()
	h.cancel()
	select {
	case <-blocked:
	case <-time.After(failDeadline):
		t.Fatal("a handle call blocked by backpressure did not return on cancel")
	}
	c.reply <- nil
	h.stop(t)
	if !m1.isAcked() || !m1.writtenAtAck.Load() {
		t.Error("the batch in hand at cancel was written but not acknowledged")
	}
	if m2.isAcked() {
		t.Error("a message never written to Kafka was acknowledged")
	}
	if n := w.callCount(); n != 1 {
		t.Errorf("writer called %d times after cancel, want 1", n)
	}
}

// Cancelling Run while Kafka keeps failing: Run gives up after its hard stop
// and acknowledges nothing, so the broker redelivers.
func TestCancelWhileKafkaDownAcksNothing(t *testing.T) {
	t.Parallel() // waits out the collector's fixed soft-stop bound
	cfg := testConfig()
	cfg.BatchSize = 3
	cfg.BatchWait = time.Second
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	var msgs []*fakeMsg
	for i := range 3 {
		m := newMsg(readingTopic(stA), payload(stA, uint64(i), ts, 1, "m"))
		msgs = append(msgs, m)
		h.client.deliver(m)
	}
	c := <-w.calls
	h.cancel()
	c.reply <- errBrokerDown
	failing := make(chan struct{})
	failDone := make(chan struct{})
	go func() {
		defer close(failDone)
		for {
			select {
			case c := <-w.calls:
				c.reply <- errBrokerDown
			case <-failing:
				return
			}
		}
	}()
	h.stop(t)
	close(failing)
	<-failDone
	for i, m := range msgs {
		if m.isAcked() {
			t.Errorf("message %d acknowledged although Kafka never took it", i)
		}
	}
	if len(w.written()) != 0 {
		t.Error("fake writer recorded a successful write")
	}
}

func TestRunPassesFilters(t *testing.T) {
	cfg := testConfig()
	cfg.ShareGroup = "g1"
	h := start(t, cfg, newFakeWriter())
	h.client.mu.Lock()
	got := h.client.filters
	h.client.mu.Unlock()
	want := []string{"$share/g1/stations/+/readings", "$share/g1/stations/+/senml"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("subscribed %v, want %v", got, want)
	}
	// The fake signals the connect from inside Connect, before Run holds
	// the client: Ready turns nil just after.
	for deadline := time.Now().Add(failDeadline); h.c.Ready() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Ready() = %v long after connect", h.c.Ready())
		}
	}
	h.stop(t)
	if err := h.c.Ready(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Ready() = %v after Run returned, want ErrNotRunning", err)
	}
}

func TestFilters(t *testing.T) {
	cases := []struct {
		group string
		want  []string
	}{
		{"", []string{"stations/+/readings", "stations/+/senml"}},
		{"resilience", []string{"$share/resilience/stations/+/readings", "$share/resilience/stations/+/senml"}},
	}
	for _, tc := range cases {
		c := Config{ShareGroup: tc.group}
		if got := c.Filters(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ShareGroup %q: Filters() = %v, want %v", tc.group, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Setenv("RESILIENCE_MQTT_PASSWORD", "")
	cases := []struct {
		name    string
		mut     func(*Config)
		setPW   bool
		wantKey []string // nil: valid
	}{
		{"defaults with url", func(c *Config) {}, false, nil},
		{"empty url allowed (embedded broker)", func(c *Config) { c.URL = "" }, false, nil},
		{"ssl url", func(c *Config) { c.URL = "ssl://broker.example:8883" }, false, nil},
		{"username with env password", func(c *Config) { c.Username = "collector" }, true, nil},
		{"username with password file", func(c *Config) { c.Username = "collector"; c.PasswordFile = "/run/secrets/mqtt" }, false, nil},
		{"http url", func(c *Config) { c.URL = "http://127.0.0.1:1883" }, false, []string{"ingest.mqtt_url"}},
		{"url without host", func(c *Config) { c.URL = "tcp://" }, false, []string{"ingest.mqtt_url"}},
		{"url garbage", func(c *Config) { c.URL = "::not a url" }, false, []string{"ingest.mqtt_url"}},
		{"empty client id", func(c *Config) { c.ClientID = "" }, false, []string{"ingest.client_id"}},
		{"long client id", func(c *Config) { c.ClientID = strings.Repeat("c", 129) }, false, []string{"ingest.client_id"}},
		{"max undelivered zero", func(c *Config) { c.MaxUndelivered = 0; c.BatchSize = 0 }, false, []string{"ingest.max_undelivered", "ingest.batch_size"}},
		{"batch size zero", func(c *Config) { c.BatchSize = 0 }, false, []string{"ingest.batch_size"}},
		{"batch size above max undelivered", func(c *Config) { c.BatchSize = c.MaxUndelivered + 1 }, false, []string{"ingest.batch_size"}},
		{"negative batch wait", func(c *Config) { c.BatchWait = -time.Millisecond }, false, []string{"ingest.batch_wait"}},
		{"batch wait over 1s", func(c *Config) { c.BatchWait = 2 * time.Second }, false, []string{"ingest.batch_wait"}},
		{"keepalive below 1s", func(c *Config) { c.KeepAlive = 500 * time.Millisecond }, false, []string{"ingest.keepalive"}},
		{"max payload tiny", func(c *Config) { c.MaxPayload = 255 }, false, []string{"ingest.max_payload"}},
		{"negative max future", func(c *Config) { c.MaxFuture = -time.Second }, false, []string{"ingest.max_future"}},
		{"username without password", func(c *Config) { c.Username = "collector" }, false, []string{"ingest.password_file"}},
		{"station rate zero (unlimited)", func(c *Config) { c.StationRate = 0 }, false, nil},
		{"station rate negative", func(c *Config) { c.StationRate = -1 }, false, []string{"ingest.station_rate"}},
		{"station rate NaN", func(c *Config) { c.StationRate = math.NaN() }, false, []string{"ingest.station_rate"}},
		{"station rate Inf", func(c *Config) { c.StationRate = math.Inf(1) }, false, []string{"ingest.station_rate"}},
		{"station burst zero", func(c *Config) { c.StationBurst = 0 }, false, []string{"ingest.station_burst"}},
		{"station max undelivered negative", func(c *Config) { c.StationMaxUndelivered = -1 }, false, []string{"ingest.station_max_undelivered"}},
		{"station max undelivered above max undelivered", func(c *Config) { c.StationMaxUndelivered = c.MaxUndelivered + 1 }, false, []string{"ingest.station_max_undelivered"}},
		{"station max undelivered equal to max undelivered", func(c *Config) { c.StationMaxUndelivered = c.MaxUndelivered }, false, nil},
		{"several problems each named", func(c *Config) { c.ClientID = ""; c.KeepAlive = 0; c.URL = "ftp://x" }, false,
			[]string{"ingest.client_id", "ingest.keepalive", "ingest.mqtt_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setPW {
				t.Setenv("RESILIENCE_MQTT_PASSWORD", "secret")
			}
			c := testConfig()
			tc.mut(&c)
			err := c.Validate()
			if tc.wantKey == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors naming %v", tc.wantKey)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.wantKey) {
				t.Errorf("got %d errors, want %d: %v", len(lines), len(tc.wantKey), err)
			}
			for _, k := range tc.wantKey {
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, k+":") {
						found = true
					}
				}
				if !found {
					t.Errorf("no error starts with %q: %v", k+":", err)
				}
			}
		})
	}
}

func TestDefaultConfigValidWithURL(t *testing.T) {
	c := DefaultConfig()
	c.URL = "tcp://127.0.0.1:1883"
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig with a URL: %v", err)
	}
	if !strings.HasPrefix(c.ClientID, "resilience-collector-") || c.ClientID != sanitize(c.ClientID) {
		t.Errorf("default client id %q", c.ClientID)
	}
}

func TestNewRequiresURLRegistryWriter(t *testing.T) {
	reg := testRegistry(t)
	cases := []struct {
		name string
		cfg  func() Config
		deps Deps
		want string
	}{
		{"no url", func() Config { c := testConfig(); c.URL = ""; return c }, Deps{Registry: reg, Writer: newFakeWriter()}, "ingest.mqtt_url"},
		{"no registry", testConfig, Deps{Writer: newFakeWriter()}, "Registry and Writer"},
		{"no writer", testConfig, Deps{Registry: reg}, "Registry and Writer"},
		{"invalid config", func() Config { c := testConfig(); c.BatchSize = 0; return c }, Deps{Registry: reg, Writer: newFakeWriter()}, "ingest.batch_size"},
	}
	for _, tc := range cases {
		_, err := New(tc.cfg(), tc.deps, discardLogger(), prometheus.NewRegistry())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}
