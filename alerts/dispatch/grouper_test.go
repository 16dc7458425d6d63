package dispatch_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/dispatch"
	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
	"github.com/resilience-project/resilience/schemas"
)

var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

const receivers = `
receivers:
  - {name: duty, webhook: [{url: "http://127.0.0.1:1/h", secret_file: /x}]}
  - {name: district, webhook: [{url: "http://127.0.0.1:1/h", secret_file: /x}]}
  - {name: city, webhook: [{url: "http://127.0.0.1:1/h", secret_file: /x}]}
`

func tree(t testing.TB, routeYAML string) *route.Tree {
	t.Helper()
	tr, err := route.Parse([]byte(receivers + routeYAML))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

const escalating = `
route:
  receivers: [duty]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  escalation: [{receivers: [district], after: 15m}, {receivers: [city], after: 45m}]
`

const repeating = `
route:
  receivers: [duty]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
`

func event(id, station, rule string, kind schemas.AlertKind, level int, at time.Duration) schemas.AlertEvent {
	ts := t0.Add(at)
	return schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, kind, level, ts), Kind: kind, Station: station,
		Rule: rule, Level: level, Sensor: schemas.WaterLevel, Severity: schemas.SeveritySevere, At: ts, StartedAt: t0}
}

// step is one thing that happens at an offset from t0.
type step struct {
	at     time.Duration
	add    []schemas.AlertEvent
	ack    string
	force  bool // EscalateNow on the first group
	due    bool
	want   []string // receiver:tier:repeat:id@kind+level,...
	groups int      // when >= 0 after due: the number of groups left (-1: do not check)
}

func due(at time.Duration, want ...string) step {
	return step{at: at, due: true, want: want, groups: -1}
}

func show(ds []dispatch.Decision) []string {
	var out []string
	for _, d := range ds {
		var as []string
		for _, e := range d.Alerts {
			as = append(as, fmt.Sprintf("%s@%s%d", e.ID, e.Kind, e.Level))
		}
		out = append(out, fmt.Sprintf("%s:%d:%d:%s", d.Receiver, d.Tier, d.Repeat, strings.Join(as, ",")))
	}
	return out
}

type fakeMuter struct{ set *silence.Set }

func (m fakeMuter) Muted(l route.Labels, now time.Time) (string, bool) { return m.set.Muted(l, now) }

func TestGrouper(t *testing.T) {
	const S = "VG-AINGHIA"
	lvl := "level:water_level"
	sil := silence.NewSet()
	if err := sil.Add(silence.Silence{ID: "maint", Matchers: route.Matchers{"station": {"TB-SILENT"}}, Author: "lan",
		Comment: "gauge maintenance", Start: t0, End: t0.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		route string
		seen  dispatch.Seen
		steps []step
	}{
		{"group wait batches the readings of one incident", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 1, 0)}},
			{at: 10 * time.Second, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertEscalated, 2, 10*time.Second)}},
			due(29 * time.Second),
			due(30*time.Second, "duty:0:0:A@escalated2"),
			due(31 * time.Second),
		}},
		{"group interval batches later changes", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 1, 0)}},
			due(30*time.Second, "duty:0:0:A@fired1"),
			{at: time.Minute, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertEscalated, 2, time.Minute)}},
			{at: 2 * time.Minute, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertEscalated, 3, 2*time.Minute)}},
			due(5 * time.Minute),
			due(5*time.Minute+30*time.Second, "duty:0:0:A@escalated3"),
		}},
		{"an old event does not replace a newer one", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertEscalated, 2, time.Minute), event("A", S, lvl, schemas.AlertFired, 1, 0)}},
			due(30*time.Second, "duty:0:0:A@escalated2"),
		}},
		{"repeat while unacknowledged, not after ack", repeating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 1, 0)}},
			due(30*time.Second, "duty:0:0:A@fired1"),
			due(time.Hour),
			due(time.Hour+30*time.Second, "duty:0:1:A@fired1"),
			due(2*time.Hour+30*time.Second, "duty:0:2:A@fired1"),
			{at: 3 * time.Hour, ack: "A"},
			due(4 * time.Hour),
		}},
		{"escalation tiers, then everyone told of the resolve", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 2, 0)}},
			due(30*time.Second, "duty:0:0:A@fired2"),
			due(15*time.Minute + 29*time.Second),
			due(15*time.Minute+30*time.Second, "district:1:0:A@fired2"),
			{at: 20 * time.Minute, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertEscalated, 3, 20*time.Minute)}},
			due(20*time.Minute, "duty:0:0:A@escalated3", "district:1:0:A@escalated3"),
			due(45*time.Minute+30*time.Second, "city:2:0:A@escalated3"),
			{at: 50 * time.Minute, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertResolved, 0, 50*time.Minute)}},
			due(50*time.Minute, "duty:0:0:A@resolved0", "district:1:0:A@resolved0", "city:2:0:A@resolved0"),
			{at: time.Hour, due: true, groups: 0},
		}},
		{"ack stops escalation", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 2, 0)}},
			due(30*time.Second, "duty:0:0:A@fired2"),
			{at: 10 * time.Minute, ack: "A"},
			due(16 * time.Minute),
			due(5 * time.Hour),
		}},
		{"unconfirmed delivery escalates at once", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 2, 0)}},
			due(30*time.Second, "duty:0:0:A@fired2"),
			{at: time.Minute, force: true},
			due(time.Minute, "district:1:0:A@fired2"),
			due(2 * time.Minute),
		}},
		{"resolved within group wait: nobody is told", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 1, 0)}},
			{at: 10 * time.Second, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertResolved, 0, 10*time.Second)}},
			{at: 30 * time.Second, due: true, groups: 0},
		}},
		{"silenced until the silence ends", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("Q", "TB-SILENT", lvl, schemas.AlertFired, 1, 0)}},
			due(30 * time.Second),
			due(9 * time.Minute),
			due(10*time.Minute, "duty:0:0:Q@fired1"),
		}},
		{"offline mutes the station's hazard until it resolves", escalating, nil, []step{
			{at: 0, add: []schemas.AlertEvent{event("O", S, "offline", schemas.AlertFired, 1, 0), event("F", S, lvl, schemas.AlertFired, 2, 0)}},
			due(30*time.Second, "duty:0:0:O@fired1"),
			{at: 10 * time.Minute, add: []schemas.AlertEvent{event("O", S, "offline", schemas.AlertResolved, 0, 10*time.Minute)}},
			due(10*time.Minute, "duty:0:0:F@fired2", "duty:0:0:O@resolved0"),
		}},
		{"already in the notification log (restart): not decided again", escalating,
			func(receiver, member string) bool { return receiver == "duty" && strings.HasPrefix(member, "A|") }, []step{
				{at: 0, add: []schemas.AlertEvent{event("A", S, lvl, schemas.AlertFired, 1, 0), event("B", "TB-NONGSON", lvl, schemas.AlertFired, 1, 0)}},
				due(30*time.Second, "duty:0:0:B@fired1"),
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := tree(t, c.route)
			g := dispatch.NewGrouper(fakeMuter{sil}, inhibit.New(inhibit.Defaults()), c.seen)
			for i, s := range c.steps {
				now := t0.Add(s.at)
				for _, e := range s.add {
					g.Add(tr, e, now)
				}
				if s.ack != "" {
					g.Ack(s.ack)
				}
				if s.force {
					g.EscalateNow(tr.Root().GroupKey(route.LabelsOf(event("A", S, lvl, "", 0, 0))))
				}
				if !s.due {
					continue
				}
				got := show(g.Due(now))
				if !slices.Equal(got, s.want) {
					t.Fatalf("step %d at +%s: Due = %q, want %q", i, s.at, got, s.want)
				}
				if s.groups >= 0 && g.Groups() != s.groups {
					t.Fatalf("step %d at +%s: %d groups left, want %d", i, s.at, g.Groups(), s.groups)
				}
			}
		})
	}
}

// After a restart the log knows the alert was notified: nothing is sent
// again at once, but the repeat and escalation timers run again from the
// restart, and a repeat's key slot does not depend on the process.
func TestGrouperAfterRestart(t *testing.T) {
	tr := tree(t, escalating) // repeat 4h, escalation 15m/45m
	a := event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0)
	seen := func(receiver, member string) bool { return receiver == "duty" && member == a.ID+"|"+a.EventID }
	g := dispatch.NewGrouper(nil, nil, seen)
	restart := t0.Add(2 * time.Hour)
	g.Add(tr, a, restart) // the replay
	if got := show(g.Due(restart.Add(30 * time.Second))); len(got) != 0 {
		t.Fatalf("after restart Due = %v, want nothing (already notified)", got)
	}
	if got := show(g.Due(restart.Add(15*time.Minute + 30*time.Second))); !slices.Equal(got, []string{"district:1:0:A@fired2"}) {
		t.Fatalf("escalation after restart = %v", got)
	}
	last := restart.Add(45*time.Minute + 30*time.Second)
	if got := show(g.Due(last)); !slices.Equal(got, []string{"city:2:0:A@fired2"}) {
		t.Fatalf("second tier after restart = %v", got)
	}
	// The repeat interval counts from the last notification of any kind.
	if got := show(g.Due(last.Add(4*time.Hour - time.Second))); len(got) != 0 {
		t.Fatalf("repeat before its interval = %v", got)
	}
	at := last.Add(4 * time.Hour)
	ds := g.Due(at)
	if got := show(ds); !slices.Equal(got, []string{"duty:0:1:A@fired2", "district:1:1:A@fired2", "city:2:1:A@fired2"}) {
		t.Fatalf("repeat after restart = %v", got)
	}
	for _, d := range ds {
		if d.Slot != at.Unix()/int64(4*3600) {
			t.Errorf("%s: slot %d, want %d", d.Receiver, d.Slot, at.Unix()/int64(4*3600))
		}
	}
}
