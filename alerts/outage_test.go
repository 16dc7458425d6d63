package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// startKfake starts an in-process Kafka on port (0: any) with its log in
// dir, so that a cluster started again on the same port and dir is the same
// Kafka after an outage.
func startKfake(t *testing.T, port int, dir string, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.ClusterID("alerts-outage")}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake on port %d: %v", port, err)
	}
	return c
}

// TestServiceSurvivesKafkaOutage (defect 4): the alerts service keeps
// running through a Kafka outage longer than the reader's own retries (the
// broker is closed, so every dial is refused), and applies and notifies the
// events produced after Kafka is back on the same address. Before the fix
// the first fetch error ended Run, and with it `resilience run`.
func TestServiceSurvivesKafkaOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	topics := schemas.Topics("outage.")
	c := startKfake(t, 0, dir, topics.Alerts, topics.Actions)
	addr := c.ListenAddrs()[0]
	_, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()

	produce := func(e schemas.AlertEvent) {
		t.Helper()
		w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: []string{addr}, Topic: topics.Alerts})
		defer w.Close()
		if err := w.WriteMessages(ctx, msg(t, e)); err != nil {
			t.Fatalf("produce %s: %v", e.EventID, err)
		}
	}
	const rule = "water_level"
	before := event("VG-AINGHIA", rule, t0, schemas.AlertFired, 1, t0)
	produce(before)

	reg := prometheus.NewRegistry()
	st := store.New()
	rec := &recorder{}
	svc, err := alerts.New(alerts.Options{Brokers: []string{addr}, Store: st, Notifiers: []notify.Notifier{rec},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Topics: topics,
		Dialer: &kafka.Dialer{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()
	waitFor(t, "CaughtUp", time.Minute, svc.CaughtUp)
	if _, ok := st.Get(before.ID); !ok {
		t.Fatal("the event produced before the outage is not in the store")
	}

	// The outage: Kafka goes away until the service has seen it fail
	// (fetch errors counted), longer than kafka-go's own reader retries.
	c.Close()
	closed = true
	deadline := time.After(time.Minute)
	for total(t, reg, "resilience_alerts_fetch_errors_total") < 2 {
		select {
		case err := <-runErr:
			t.Fatalf("Run returned %v during a Kafka outage; it must retry", err)
		case <-deadline:
			t.Fatal("no fetch error counted within a minute of stopping Kafka")
		case <-time.After(50 * time.Millisecond):
		}
	}

	// Kafka is back on the same address with the same log.
	c = startKfake(t, port, dir)
	closed = false
	after := event("VG-AINGHIA", rule, t0, schemas.AlertResolved, 0, t0.Add(time.Hour))
	produce(after)
	for {
		if a, ok := st.Get(before.ID); ok && a.State == store.Resolved {
			break
		}
		select {
		case err := <-runErr:
			t.Fatalf("Run returned %v after the outage", err)
		case <-ctx.Done():
			t.Fatal("the event produced after the outage was never applied")
		case <-time.After(50 * time.Millisecond):
		}
	}
	waitFor(t, "the notification of the event after the outage", time.Minute, func() bool {
		for _, c := range rec.snapshot() {
			if c.event.EventID == after.EventID {
				return true
			}
		}
		return false
	})
	stop()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after cancel")
	}
}

// total sums every series of a counter.
func total(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}
