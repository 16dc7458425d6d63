package alerts_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/basin"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// TestBasinAlertsOnKafka: on the real Kafka, two stations of one basin at
// BĐ II make the alerts service produce one basin alert; a restarted
// service (replaying the topic) does not produce it again; a station
// resolving resolves it.
func TestBasinAlertsOnKafka(t *testing.T) {
	env := testenv.RequireKafka(t)
	topics := schemas.Topics(testenv.UniqueName(t, "basin") + ".")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kafkax.EnsureTopics(ctx, env.KafkaBrokers, nil, kafkax.TopicSpec{Name: topics.Alerts, Partitions: 2, ReplicationFactor: 1},
		kafkax.TopicSpec{Name: topics.Actions, Partitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	reg, err := schemas.NewRegistry([]schemas.Station{
		{ID: "A1", Name: "a1", Basin: "vu-gia", District: "d", Lat: 16, Lon: 108, Interval: time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel}},
		{ID: "A2", Name: "a2", Basin: "vu-gia", District: "d", Lat: 16, Lon: 108, Interval: time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel}},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: env.KafkaBrokers})
	defer w.Close()
	produce := func(evs ...schemas.AlertEvent) { writeEvents(t, ctx, w, topics.Alerts, evs...) }
	const rule = "level:water_level"
	run := func() (*store.Store, func()) {
		st := store.New()
		svc, err := alerts.New(alerts.Options{Brokers: env.KafkaBrokers, Store: st, Topics: topics,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
			Basin: basin.New(rules.DefaultRuleSet(), reg), Writer: w})
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(sctx) }()
		for !svc.CaughtUp() {
			time.Sleep(20 * time.Millisecond)
		}
		return st, func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	basinAlerts := func(st *store.Store) []store.Alert {
		return st.List(store.Filter{Station: basin.BasinStation("vu-gia")})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	produce(event("A1", rule, t0, schemas.AlertFired, 2, t0), event("A2", rule, t0.Add(time.Minute), schemas.AlertFired, 2, t0.Add(time.Minute)))
	st, stop := run()
	waitFor("the basin alert", func() bool {
		b := basinAlerts(st)
		return len(b) == 1 && b[0].State == store.Firing && b[0].Rule == "basin:two-stations-bd2"
	})
	stop()

	// A restart replays the topic: the basin alert is there, not produced again.
	st, stop = run()
	waitFor("the replayed basin alert", func() bool { return len(basinAlerts(st)) == 1 })
	if b := basinAlerts(st)[0]; b.Events != 1 || b.State != store.Firing {
		t.Fatalf("after a restart the basin alert has %d events, state %s; want 1 event, firing", b.Events, b.State)
	}
	// One station resolving resolves it.
	produce(event("A1", rule, t0, schemas.AlertResolved, 2, t0.Add(time.Hour)))
	waitFor("the basin all-clear", func() bool {
		b := basinAlerts(st)
		return len(b) == 1 && b[0].State == store.Resolved && b[0].Events == 2
	})
	stop()
}
