package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// recorder is a notify.Notifier that records its calls.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	alert store.Alert
	event schemas.AlertEvent
}

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Notify(_ context.Context, a store.Alert, e schemas.AlertEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{a, e})
	return nil
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

var t0 = time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)

func event(station, rule string, start time.Time, kind schemas.AlertKind, level int, at time.Time) schemas.AlertEvent {
	id := schemas.AlertID(station, rule, start)
	return schemas.AlertEvent{V: schemas.AlertEventVersion, ID: id, EventID: schemas.EventID(id, kind, level, at),
		Kind: kind, Station: station, Sensor: schemas.WaterLevel, Rule: rule, Level: level,
		Severity: schemas.SeverityModerate, Value: float64(level), Threshold: float64(level), StartedAt: start, At: at}
}

func msg(t *testing.T, e schemas.AlertEvent) kafka.Message {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Key: []byte(e.Station), Value: b}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func counter(t *testing.T, g prometheus.Gatherer, name, result string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestServiceReplaysThenNotifiesLiveEvents(t *testing.T) {
	// In-process Kafka (kfake): the replay contract runs without servers.
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := struct{ KafkaBrokers []string }{c.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	topics := schemas.Topics("replay.")
	if _, err := kafkax.EnsureTopics(ctx, env.KafkaBrokers, nil,
		kafkax.TopicSpec{Name: topics.Alerts, Partitions: 3, ReplicationFactor: 1},
		kafkax.TopicSpec{Name: topics.Actions, Partitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// Goroutines from here on (writer, service) must all be gone at the end.
	before := goleak.IgnoreCurrent()
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: env.KafkaBrokers, Topic: topics.Alerts})
	closeWriter := func() { w.Close() } // also closes its transport
	defer closeWriter()

	const rule = "water_level"
	aStart, bStart, cStart := t0, t0.Add(time.Hour), t0.Add(2*time.Hour)
	aFired := event("VG-AINGHIA", rule, aStart, schemas.AlertFired, 1, aStart)
	aEsc := event("VG-AINGHIA", rule, aStart, schemas.AlertEscalated, 3, aStart.Add(10*time.Minute))
	bFired := event("TB-HOIAN", rule, bStart, schemas.AlertFired, 1, bStart)
	bResolved := event("TB-HOIAN", rule, bStart, schemas.AlertResolved, 0, bStart.Add(time.Hour))
	cFired := event("VG-THANHMY", rule, cStart, schemas.AlertFired, 2, cStart)

	history := []kafka.Message{msg(t, aFired), msg(t, aEsc), msg(t, aEsc), // the processor re-emitted aEsc
		msg(t, bFired), msg(t, bResolved), msg(t, cFired),
		{Key: []byte("VG-AINGHIA"), Value: []byte("not json")}}
	if err := w.WriteMessages(ctx, history...); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	st := store.New()
	rec := &recorder{}
	svc, err := alerts.New(alerts.Options{Brokers: env.KafkaBrokers, Store: st, Notifiers: []notify.Notifier{rec},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()

	waitFor(t, "CaughtUp", time.Minute, svc.CaughtUp)

	// The store holds the replayed history.
	want := map[string]struct {
		state  store.State
		level  int
		events int
	}{
		aFired.ID: {store.Firing, 3, 2},
		bFired.ID: {store.Resolved, 0, 2},
		cFired.ID: {store.Firing, 2, 1},
	}
	all := st.List(store.Filter{})
	if len(all) != len(want) {
		t.Fatalf("store has %d alerts after replay, want %d: %+v", len(all), len(want), all)
	}
	for _, a := range all {
		w, ok := want[a.ID]
		if !ok {
			t.Errorf("unexpected alert %s", a.ID)
			continue
		}
		if a.State != w.state || a.Level != w.level || a.Events != w.events {
			t.Errorf("alert %s: state=%s level=%d events=%d, want state=%s level=%d events=%d",
				a.ID, a.State, a.Level, a.Events, w.state, w.level, w.events)
		}
	}
	if b, _ := st.Get(bFired.ID); b.ResolvedAt == nil || !b.ResolvedAt.Equal(bResolved.At) {
		t.Errorf("alert B ResolvedAt = %v, want %s", b.ResolvedAt, bResolved.At)
	}
	if calls := rec.snapshot(); len(calls) != 0 {
		t.Fatalf("replayed events were notified: %d calls, first %+v", len(calls), calls[0].event)
	}

	// Live: a new event, a duplicate of it, a duplicate of a replayed event,
	// then a sentinel, all on one station (one partition, in order).
	aDeesc := event("VG-AINGHIA", rule, aStart, schemas.AlertDeescalated, 2, aStart.Add(20*time.Minute))
	aResolved := event("VG-AINGHIA", rule, aStart, schemas.AlertResolved, 0, aStart.Add(30*time.Minute))
	if err := w.WriteMessages(ctx, msg(t, aDeesc), msg(t, aDeesc), msg(t, aFired), msg(t, aResolved)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sentinel's notification", time.Minute, func() bool {
		for _, c := range rec.snapshot() {
			if c.event.EventID == aResolved.EventID {
				return true
			}
		}
		return false
	})
	calls := rec.snapshot()
	if len(calls) != 2 || calls[0].event.EventID != aDeesc.EventID || calls[1].event.EventID != aResolved.EventID {
		ids := make([]string, len(calls))
		for i, c := range calls {
			ids[i] = c.event.EventID
		}
		t.Fatalf("notifications %v, want exactly [%s %s]", ids, aDeesc.EventID, aResolved.EventID)
	}
	// Notifiers see the alert as it is after the event.
	if a := calls[0].alert; a.ID != aFired.ID || a.State != store.Firing || a.Level != 2 {
		t.Errorf("deescalation notified with alert %+v, want firing at level 2", a)
	}
	if a := calls[1].alert; a.State != store.Resolved || a.ResolvedAt == nil || !a.ResolvedAt.Equal(aResolved.At) {
		t.Errorf("resolution notified with alert %+v, want resolved at %s", a, aResolved.At)
	}

	for result, want := range map[string]float64{"applied": 7, "duplicate": 3, "bad": 1} {
		if got := counter(t, reg, "resilience_alerts_events_total", result); got != want {
			t.Errorf("resilience_alerts_events_total{result=%q} = %g, want %g", result, got, want)
		}
	}

	stop()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run returned %v, want nil after cancel", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after cancel")
	}
	closeWriter()
	goleak.VerifyNone(t, before)
}

func TestNewRequiresBrokersAndStore(t *testing.T) {
	for _, o := range []alerts.Options{{Store: store.New()}, {Brokers: []string{"127.0.0.1:1"}}} {
		if _, err := alerts.New(o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
}
