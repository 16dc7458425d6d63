package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// TestOperatorResolveIsDispatchedOnce (issue 8, item 3): an operator
// resolve gives the dispatcher a resolved event (the all-clear's path, so
// the receivers get a resolve notification), with an id every replica
// derives alike; the processor's own all-clear that follows is not
// dispatched again. Before the fix the resolve only acknowledged in the
// dispatcher: no resolved event was submitted.
func TestOperatorResolveIsDispatchedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, topics := kfakeAlertTopics(t, ctx, "opresolve.", 1, 1)
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	defer w.Close()
	aw := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers, Topic: topics.Alerts})
	defer aw.Close()
	now := t0.Add(time.Hour)
	fired := event("TB-HOIAN", "water_level", t0, schemas.AlertFired, 3, t0)
	if err := aw.WriteMessages(ctx, msg(t, fired)); err != nil {
		t.Fatal(err)
	}
	st, d := store.New(), &fakeDispatcher{}
	svc, stop := runService(t, ctx, alerts.Options{Brokers: brokers, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Topics: topics, Writer: w, Dispatcher: d, Now: func() time.Time { return now }})
	defer stop()
	waitFor(t, "the fired event submitted", time.Minute, func() bool {
		sub, _, _ := d.snapshot()
		return slices.Contains(sub, fired.EventID)
	})
	if _, err := svc.Act(ctx, fired.ID, schemas.ActionResolve, "minh", "water receded"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the operator resolve folded", time.Minute, func() bool {
		a, _ := st.Get(fired.ID)
		return a.State == store.Resolved
	})
	a, _ := st.Get(fired.ID)
	want := alerts.OperatorResolved(a)
	if want.Kind != schemas.AlertResolved || want.ID != fired.ID || want.Station != fired.Station || !want.At.Equal(now) {
		t.Fatalf("OperatorResolved = %+v", want)
	}
	waitFor(t, "the operator resolve submitted as a resolved event", time.Minute, func() bool {
		sub, _, _ := d.snapshot()
		return slices.Contains(sub, want.EventID)
	})
	// The processor's all-clear comes later: the alert is over already.
	allClear := event("TB-HOIAN", "water_level", t0, schemas.AlertResolved, 0, now.Add(time.Minute))
	marker := event("TB-OTHER", "water_level", t0, schemas.AlertFired, 3, now.Add(2*time.Minute))
	if err := aw.WriteMessages(ctx, msg(t, allClear), msg(t, marker)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next alert's event submitted", time.Minute, func() bool {
		sub, _, _ := d.snapshot()
		return slices.Contains(sub, marker.EventID)
	})
	sub, _, _ := d.snapshot()
	if slices.Contains(sub, allClear.EventID) {
		t.Errorf("the processor's all-clear after an operator resolve was dispatched: %v", sub)
	}
	if n := countOf(sub, want.EventID); n != 1 {
		t.Errorf("operator resolve submitted %d times, want 1: %v", n, sub)
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}
