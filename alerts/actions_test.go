package alerts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// fakeDispatcher records what the service hands it.
type fakeDispatcher struct {
	mu        sync.Mutex
	submitted []string // event ids
	acked     []string
	unacked   []string
}

func (f *fakeDispatcher) Submit(e schemas.AlertEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, e.EventID)
}

func (f *fakeDispatcher) Ack(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = append(f.acked, id)
}

func (f *fakeDispatcher) Unack(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unacked = append(f.unacked, id)
}

func (f *fakeDispatcher) snapshot() (sub, ack, unack []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.submitted), slices.Clone(f.acked), slices.Clone(f.unacked)
}

// runService runs one service instance until the returned stop is called.
func runService(t *testing.T, ctx context.Context, o alerts.Options) (*alerts.Service, func()) {
	t.Helper()
	svc, err := alerts.New(o)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	return svc, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil after cancel", err)
			}
		case <-time.After(time.Minute):
			t.Error("Run did not return after cancel")
		}
	}
}

// TestActionsAreDurableAndFeedTheDispatcher: an operator's ack goes
// through the actions topic into the store (acknowledged, with history)
// and the dispatcher; a second instance (a restart, or another replica)
// folds the same state from the topics. Replayed events younger than
// NotifyMaxAge are handed to the dispatcher (whose notification log decides
// what was already sent: an alert raised while the service was down is
// notified when it comes back), older ones are not. Before this change the
// replay handed nothing on and an ack existed nowhere.
func TestActionsAreDurableAndFeedTheDispatcher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, topics := kfakeAlertTopics(t, ctx, "actions.", 2, 2)
	before := goleak.IgnoreCurrent()
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	defer w.Close()
	aw := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers, Topic: topics.Alerts})
	defer aw.Close()

	now := t0.Add(48 * time.Hour)
	clock := func() time.Time { return now }
	const rule = "water_level"
	old := event("VG-AINGHIA", rule, t0, schemas.AlertFired, 1, t0)                                    // 48 h old
	recent := event("TB-HOIAN", rule, now.Add(-time.Hour), schemas.AlertFired, 3, now.Add(-time.Hour)) // raised while down
	if err := aw.WriteMessages(ctx, msg(t, old), msg(t, recent)); err != nil {
		t.Fatal(err)
	}

	opts := func(st *store.Store, d alerts.Dispatcher) alerts.Options {
		return alerts.Options{Brokers: brokers, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registry: prometheus.NewRegistry(), Topics: topics, Writer: w, Dispatcher: d, NotifyMaxAge: 24 * time.Hour, Now: clock}
	}
	st1, d1 := store.New(), &fakeDispatcher{}
	svc1, stop1 := runService(t, ctx, opts(st1, d1))
	waitFor(t, "CaughtUp", time.Minute, svc1.CaughtUp)
	waitFor(t, "the recent replayed event submitted", time.Minute, func() bool {
		sub, _, _ := d1.snapshot()
		return len(sub) == 1
	})
	if sub, _, _ := d1.snapshot(); sub[0] != recent.EventID {
		t.Fatalf("submitted %v, want only the event younger than NotifyMaxAge %s", sub, recent.EventID)
	}

	// Unknown alert and bad input are refused before anything is produced.
	if _, err := svc1.Act(ctx, "XX-NONE-0", schemas.ActionAck, "lan", ""); !errors.Is(err, alerts.ErrUnknownAlert) {
		t.Errorf("Act on an unknown alert: %v, want ErrUnknownAlert", err)
	}
	if _, err := svc1.Act(ctx, recent.ID, schemas.ActionAck, "", ""); !errors.Is(err, schemas.ErrBadAction) {
		t.Errorf("Act without by: %v, want ErrBadAction", err)
	}
	if _, err := svc1.Act(ctx, recent.ID, schemas.ActionAck, "lan", "on my way"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ack folded into the store", time.Minute, func() bool {
		a, _ := st1.Get(recent.ID)
		return a.State == store.Acknowledged
	})
	waitFor(t, "the ack given to the dispatcher", time.Minute, func() bool {
		_, ack, _ := d1.snapshot()
		return slices.Contains(ack, recent.ID)
	})
	// A live event is submitted.
	esc := event("TB-HOIAN", rule, now.Add(-time.Hour), schemas.AlertEscalated, 3, now)
	if err := aw.WriteMessages(ctx, msg(t, esc)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the live event submitted", time.Minute, func() bool {
		sub, _, _ := d1.snapshot()
		return slices.Contains(sub, esc.EventID)
	})
	if _, err := svc1.Act(ctx, recent.ID, schemas.ActionResolve, "minh", "water receded"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the operator resolve folded", time.Minute, func() bool {
		a, _ := st1.Get(recent.ID)
		return a.State == store.Resolved
	})
	stop1()
	want, _ := st1.Get(recent.ID)

	// A restart (or a second replica) sees the same lifecycle.
	st2, d2 := store.New(), &fakeDispatcher{}
	svc2, stop2 := runService(t, ctx, opts(st2, d2))
	waitFor(t, "CaughtUp after restart", time.Minute, svc2.CaughtUp)
	waitFor(t, "the actions replayed", time.Minute, func() bool {
		a, _ := st2.Get(recent.ID)
		return a.State == store.Resolved && len(a.History) == 4
	})
	got, _ := st2.Get(recent.ID)
	if got.State != want.State || got.Ack == nil || got.Ack.By != "lan" || got.Ack.Note != "on my way" ||
		got.ResolvedBy != "minh" || got.ResolveReason != "water receded" || len(got.History) != len(want.History) {
		t.Errorf("after restart: %+v\nwant %+v", got, want)
	}
	_, ack2, _ := d2.snapshot()
	if !slices.Contains(ack2, recent.ID) {
		t.Errorf("after restart the dispatcher was not told the alert is acknowledged: acks %v", ack2)
	}
	stop2()
	w.Close()
	aw.Close()
	goleak.VerifyNone(t, before)
}

// kfakeAlertTopics starts an in-process Kafka cluster (closed when the test
// ends) with the alerts topic in alertParts partitions and the actions
// topic in actionParts, under prefix.
func kfakeAlertTopics(t *testing.T, ctx context.Context, prefix string, alertParts, actionParts int) ([]string, schemas.KafkaTopics) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	topics := schemas.Topics(prefix)
	if _, err := kafkax.EnsureTopics(ctx, brokers, nil,
		kafkax.TopicSpec{Name: topics.Alerts, Partitions: alertParts, ReplicationFactor: 1},
		kafkax.TopicSpec{Name: topics.Actions, Partitions: actionParts, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	return brokers, topics
}
