package alerts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/dispatch"
	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/alerts/nflog"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// TestSilencesAreDurableAndShared (issue 8, silences persistence): a
// silence created on one replica is in its Silences() at once, reaches a
// second running replica through the actions topic, and survives a
// restart; an expiry likewise, with who expired it. Operator actions on the
// same topic still fold. Before this change silences lived in one process's
// memory: the second replica and the restart saw none.
func TestSilencesAreDurableAndShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, topics := kfakeAlertTopics(t, ctx, "silences.", 1, 2)
	before := goleak.IgnoreCurrent()
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	defer w.Close()
	now := time.Now().UTC()
	opts := func(w alerts.EventWriter) alerts.Options {
		o := alerts.Options{Brokers: brokers, Store: store.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registry: prometheus.NewRegistry(), Topics: topics}
		if w != nil {
			o.Writer = w
		}
		return o
	}
	a, stopA := runService(t, ctx, opts(w))
	b, stopB := runService(t, ctx, opts(w))
	waitFor(t, "both replicas caught up", time.Minute, func() bool { return a.CaughtUp() && b.CaughtUp() })

	sil := silence.Silence{Matchers: route.Matchers{"station": {"VG-AINGHIA"}, "rule": {"water_level"}}, Author: "lan",
		Comment: "gauge maintenance", Start: now.Add(-time.Minute), End: now.Add(time.Hour)}
	bad := sil
	bad.Comment = ""
	if _, err := a.CreateSilence(ctx, bad); !errors.Is(err, silence.ErrInvalid) || !contains(err.Error(), "comment: required") {
		t.Errorf("CreateSilence without comment = %v, want ErrInvalid naming comment", err)
	}
	noWriter, stopN := runService(t, ctx, opts(nil))
	if _, err := noWriter.CreateSilence(ctx, sil); !errors.Is(err, alerts.ErrNoWriter) {
		t.Errorf("CreateSilence without a writer = %v, want ErrNoWriter", err)
	}
	stopN()
	id, err := a.CreateSilence(ctx, sil)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Silences(); len(got) != 1 || got[0].ID != id || got[0].Author != "lan" || !got[0].Active(now) {
		t.Fatalf("creator's Silences() right after CreateSilence = %+v, want the active silence %s", got, id)
	}
	waitFor(t, "the silence on the other replica", time.Minute, func() bool {
		got := b.Silences()
		return len(got) == 1 && got[0].ID == id && got[0].Comment == "gauge maintenance" &&
			slices.Equal(got[0].Matchers["station"], []string{"VG-AINGHIA"}) && got[0].End.Equal(sil.End)
	})

	if err := b.ExpireSilence(ctx, "no-such", "minh"); !errors.Is(err, silence.ErrNotFound) {
		t.Errorf("ExpireSilence(unknown) = %v, want ErrNotFound", err)
	}
	if err := b.ExpireSilence(ctx, id, ""); !errors.Is(err, alerts.ErrBadSilenceAction) {
		t.Errorf("ExpireSilence without by = %v, want ErrBadSilenceAction", err)
	}
	if err := b.ExpireSilence(ctx, id, "minh"); err != nil {
		t.Fatal(err)
	}
	expired := func(s *alerts.Service) bool {
		got := s.Silences()
		return len(got) == 1 && got[0].ExpiredBy == "minh" && !got[0].Active(time.Now())
	}
	if !expired(b) {
		t.Errorf("expirer's Silences() right after ExpireSilence = %+v, want it ended by minh", b.Silences())
	}
	waitFor(t, "the expiry on the first replica", time.Minute, func() bool { return expired(a) })
	stopA()
	stopB()

	// A restart folds the same silences from the topic.
	c, stopC := runService(t, ctx, opts(w))
	waitFor(t, "the restarted replica caught up", time.Minute, c.CaughtUp)
	waitFor(t, "the expired silence after a restart", time.Minute, func() bool { return expired(c) })
	if got := c.Silences(); got[0].ID != id || got[0].Author != "lan" || !got[0].Start.Equal(sil.Start) {
		t.Errorf("after restart: %+v", got[0])
	}
	stopC()
	w.Close()
	goleak.VerifyNone(t, before)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// recordingChannel remembers every notification it was given, by alert.
type recordingChannel struct {
	mu  sync.Mutex
	got []notify.Notification
}

func (r *recordingChannel) Name() string { return "rec" }

func (r *recordingChannel) Send(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return nil
}

// alertsNotified returns, per alert id, how many notifications named it.
func (r *recordingChannel) alertsNotified() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, n := range r.got {
		for _, e := range n.Alerts {
			out[e.ID]++
		}
	}
	return out
}

// writeEvents writes each event, keyed by station, to topic in order.
func writeEvents(t *testing.T, ctx context.Context, w *kafkax.Writer, topic string, es ...schemas.AlertEvent) {
	t.Helper()
	for _, e := range es {
		m := msg(t, e)
		m.Topic = topic
		if err := w.WriteMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// muteStack is the alerts service with a real dispatcher (file
// notification log), the default inhibition rules and the service's
// silence set, on kfake, notifying a recording channel.
func muteStack(t *testing.T, ctx context.Context, prefix string) (*alerts.Service, *store.Store, *recordingChannel, *kafkax.Writer, schemas.KafkaTopics, func()) {
	t.Helper()
	brokers, topics := kfakeAlertTopics(t, ctx, prefix, 2, 1)
	before := goleak.IgnoreCurrent()
	tree, err := route.Parse([]byte(`
receivers:
  - {name: duty, webhook: [{url: "http://127.0.0.1:9/unused", secret_file: /unused}]}
route:
  receivers: [duty]
  group_by: [station, rule]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
`))
	if err != nil {
		t.Fatal(err)
	}
	nl, err := nflog.OpenFile(filepath.Join(t.TempDir(), "nflog"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingChannel{}
	sil := silence.NewSet()
	d, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tree }, Channels: map[string][]notify.Channel{"duty": {rec}},
		Log: nl, Silences: sil, Inhibit: inhibit.New(inhibit.Defaults()), Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	st := store.New()
	svc, stopSvc := runService(t, ctx, alerts.Options{Brokers: brokers, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Topics: topics, Writer: w, Dispatcher: d, Silences: sil})
	dctx, dcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	waitFor(t, "CaughtUp", time.Minute, svc.CaughtUp)
	return svc, st, rec, w, topics, func() {
		stopSvc()
		dcancel()
		<-done
		w.Close()
		nl.Close()
		goleak.VerifyNone(t, before)
	}
}

// TestSilencedStationIsNotNotified (end to end through the service and the
// dispatcher): with a silence on one station made through CreateSilence,
// that station's alert is in the store but nobody is notified, while
// another station's alert, raised after it, is notified; after the
// silence is expired the next event of the silenced alert is notified.
func TestSilencedStationIsNotNotified(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, st, rec, w, topics, stop := muteStack(t, ctx, "silenced.")
	now := time.Now().UTC()
	id, err := svc.CreateSilence(ctx, silence.Silence{Matchers: route.Matchers{"station": {"VG-AINGHIA"}}, Author: "lan",
		Comment: "gauge maintenance", Start: now.Add(-time.Minute), End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	muted := event("VG-AINGHIA", "water_level", now, schemas.AlertFired, 3, now)
	other := event("TB-HOIAN", "water_level", now, schemas.AlertFired, 3, now)
	write := func(es ...schemas.AlertEvent) { t.Helper(); writeEvents(t, ctx, w, topics.Alerts, es...) }
	write(muted, other) // same producer, keyed by station: the muted one is folded first on its partition
	waitFor(t, "the other station notified", time.Minute, func() bool { return rec.alertsNotified()[other.ID] == 1 })
	waitFor(t, "the silenced alert in the store", time.Minute, func() bool {
		a, ok := st.Get(muted.ID)
		return ok && a.State == store.Firing
	})
	// The dispatcher decides each group on its own tick; wait until a
	// decision after the muted alert's arrival is observable (a later
	// alert notified), then the silenced one must not have been.
	later := event("TB-NONGSON", "water_level", now, schemas.AlertFired, 3, now.Add(time.Second))
	write(later)
	waitFor(t, "a later alert notified", time.Minute, func() bool { return rec.alertsNotified()[later.ID] == 1 })
	if n := rec.alertsNotified()[muted.ID]; n != 0 {
		t.Fatalf("silenced station notified %d times", n)
	}
	if err := svc.ExpireSilence(ctx, id, "minh"); err != nil {
		t.Fatal(err)
	}
	esc := event("VG-AINGHIA", "water_level", now, schemas.AlertEscalated, 3, now.Add(2*time.Second))
	esc.Value = 9
	write(esc)
	waitFor(t, "the station notified after the silence expired", time.Minute, func() bool { return rec.alertsNotified()[muted.ID] >= 1 })
	stop()
}

// TestOfflineStationInhibitsItsHazards (end to end through the service and
// the dispatcher): while a station's offline alert fires, its water-level
// alert is in the store but not notified (the station-offline inhibition
// rule); another station's is. When the offline alert resolves, the
// hazard is notified.
func TestOfflineStationInhibitsItsHazards(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, st, rec, w, topics, stop := muteStack(t, ctx, "inhibited.")
	now := time.Now().UTC()
	offline := event("VG-AINGHIA", inhibit.OfflineRule, now, schemas.AlertFired, 1, now)
	hazard := event("VG-AINGHIA", "water_level", now, schemas.AlertFired, 3, now.Add(time.Second))
	other := event("TB-HOIAN", "water_level", now, schemas.AlertFired, 3, now.Add(2*time.Second))
	write := func(es ...schemas.AlertEvent) { t.Helper(); writeEvents(t, ctx, w, topics.Alerts, es...) }
	write(offline)
	waitFor(t, "the offline alert notified", time.Minute, func() bool { return rec.alertsNotified()[offline.ID] == 1 })
	write(hazard, other)
	waitFor(t, "the other station notified", time.Minute, func() bool { return rec.alertsNotified()[other.ID] == 1 })
	waitFor(t, "the inhibited alert in the store", time.Minute, func() bool {
		a, ok := st.Get(hazard.ID)
		return ok && a.State == store.Firing
	})
	later := event("TB-NONGSON", "water_level", now, schemas.AlertFired, 3, now.Add(3*time.Second))
	write(later)
	waitFor(t, "a later alert notified", time.Minute, func() bool { return rec.alertsNotified()[later.ID] == 1 })
	if n := rec.alertsNotified()[hazard.ID]; n != 0 {
		t.Fatalf("hazard of an offline station notified %d times", n)
	}
	back := event("VG-AINGHIA", inhibit.OfflineRule, now, schemas.AlertResolved, 1, now.Add(4*time.Second))
	write(back)
	waitFor(t, "the hazard notified once the station is back", time.Minute, func() bool { return rec.alertsNotified()[hazard.ID] >= 1 })
	stop()
}
