package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

func act(t *testing.T, alertID string, kind schemas.ActionKind, by, note string, at time.Time) schemas.AlertAction {
	t.Helper()
	a, err := schemas.NewAlertAction(alertID, kind, by, note, at)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// item is an event or an action, so that one sequence can mix them.
type item struct {
	e *schemas.AlertEvent
	a *schemas.AlertAction
}

func apply(s *store.Store, it item) bool {
	if it.e != nil {
		return s.Apply(*it.e)
	}
	return s.ApplyAction(*it.a)
}

func TestActionsLifecycle(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	fired := ev(st, rule, t0, schemas.AlertFired, 3, at(0))
	id := fired.ID
	resolved := ev(st, rule, t0, schemas.AlertResolved, 0, at(60))
	ack := act(t, id, schemas.ActionAck, "lan", "on my way", at(5))
	unack := act(t, id, schemas.ActionUnack, "lan", "", at(6))
	ack2 := act(t, id, schemas.ActionAck, "minh", "sirens checked", at(7))
	opResolve := act(t, id, schemas.ActionResolve, "minh", "sensor washed away; water receded", at(30))
	comment := act(t, id, schemas.ActionComment, "lan", "called the ward", at(8))
	assign := act(t, id, schemas.ActionAssign, "lan", "minh", at(9))
	E := func(e schemas.AlertEvent) item { return item{e: &e} }
	A := func(a schemas.AlertAction) item { return item{a: &a} }
	type want struct {
		state        store.State
		ackBy        string
		resolvedBy   string
		reason       string
		resolvedAt   *time.Time
		assignee     string
		historyKinds string
	}
	r30, r60 := at(30), at(60)
	tests := []struct {
		name string
		seq  []item
		want want
	}{
		{"fired", []item{E(fired)}, want{store.Firing, "", "", "", nil, "", "[fired]"}},
		{"acknowledged", []item{E(fired), A(ack)}, want{store.Acknowledged, "lan", "", "", nil, "", "[fired ack]"}},
		{"unack returns to firing", []item{E(fired), A(ack), A(unack)}, want{store.Firing, "", "", "", nil, "", "[fired ack unack]"}},
		{"latest ack wins", []item{E(fired), A(ack2), A(unack), A(ack)},
			want{store.Acknowledged, "minh", "", "", nil, "", "[fired ack unack ack]"}},
		{"comment and assign keep the state", []item{E(fired), A(ack), A(comment), A(assign)},
			want{store.Acknowledged, "lan", "", "", nil, "minh", "[fired ack comment assign]"}},
		{"operator resolve", []item{E(fired), A(ack), A(opResolve)},
			want{store.Resolved, "lan", "minh", "sensor washed away; water receded", &r30, "", "[fired ack resolve]"}},
		{"all-clear", []item{E(fired), A(ack), E(resolved)},
			want{store.Resolved, "lan", "", "", &r60, "", "[fired ack resolved]"}},
		{"operator resolve before the all-clear keeps the earlier time", []item{E(fired), E(resolved), A(opResolve)},
			want{store.Resolved, "", "minh", "sensor washed away; water receded", &r30, "", "[fired resolve resolved]"}},
		{"actions before the alert's first event are held", []item{A(ack), A(comment), E(fired)},
			want{store.Acknowledged, "lan", "", "", nil, "", "[fired ack comment]"}},
		{"duplicate actions are applied once", []item{E(fired), A(ack), A(ack), A(comment), A(comment)},
			want{store.Acknowledged, "lan", "", "", nil, "", "[fired ack comment]"}},
		{"ack after resolve stays resolved", []item{E(fired), E(resolved), A(act(t, id, schemas.ActionAck, "lan", "", at(70)))},
			want{store.Resolved, "lan", "", "", &r60, "", "[fired resolved ack]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := store.New()
			for _, it := range tc.seq {
				apply(s, it)
			}
			a, ok := s.Get(id)
			if !ok {
				t.Fatal("alert not found")
			}
			kinds := make([]string, len(a.History))
			for i, h := range a.History {
				kinds[i] = h.Kind
			}
			ackBy := ""
			if a.Ack != nil {
				ackBy = a.Ack.By
			}
			w := tc.want
			if a.State != w.state || ackBy != w.ackBy || a.ResolvedBy != w.resolvedBy || a.ResolveReason != w.reason ||
				a.Assignee != w.assignee || fmt.Sprint(kinds) != w.historyKinds {
				t.Errorf("got state=%s ack_by=%q resolved_by=%q reason=%q assignee=%q history=%v\nwant %+v",
					a.State, ackBy, a.ResolvedBy, a.ResolveReason, a.Assignee, kinds, w)
			}
			switch {
			case w.resolvedAt == nil && a.ResolvedAt != nil:
				t.Errorf("ResolvedAt = %s, want nil", *a.ResolvedAt)
			case w.resolvedAt != nil && (a.ResolvedAt == nil || !a.ResolvedAt.Equal(*w.resolvedAt)):
				t.Errorf("ResolvedAt = %v, want %s", a.ResolvedAt, *w.resolvedAt)
			}
		})
	}
}

// Two replicas read the two topics with different interleavings: the
// state must not depend on it.
func TestFoldIsOrderIndependent(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	fired := ev(st, rule, t0, schemas.AlertFired, 1, at(0))
	id := fired.ID
	var items []item
	for _, e := range []schemas.AlertEvent{fired, ev(st, rule, t0, schemas.AlertEscalated, 3, at(10)),
		ev(st, rule, t0, schemas.AlertDeescalated, 2, at(20))} {
		items = append(items, item{e: &e})
	}
	for _, a := range []schemas.AlertAction{act(t, id, schemas.ActionAck, "lan", "", at(11)),
		act(t, id, schemas.ActionUnack, "lan", "", at(12)), act(t, id, schemas.ActionAck, "minh", "x", at(13)),
		act(t, id, schemas.ActionComment, "minh", "y", at(13)), act(t, id, schemas.ActionAssign, "minh", "lan", at(14))} {
		items = append(items, item{a: &a})
	}
	render := func(s *store.Store) string {
		a, _ := s.Get(id)
		ack := *a.Ack
		a.Ack = nil
		return fmt.Sprintf("%+v %+v", a, ack)
	}
	ref := store.New()
	for _, it := range items {
		apply(ref, it)
	}
	want := render(ref)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		perm := append([]item(nil), items...)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		s := store.New()
		for _, it := range perm {
			apply(s, it)
		}
		if got := render(s); got != want {
			t.Fatalf("permutation %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestResolvedAlertsAgeOut(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	now := t0.Add(10 * time.Hour)
	s := store.NewWithOptions(store.Options{ResolvedRetention: time.Hour, Now: func() time.Time { return now }})
	old := ev(st, rule, t0, schemas.AlertFired, 1, t0)
	oldResolved := ev(st, rule, t0, schemas.AlertResolved, 0, t0.Add(time.Minute))
	recent := ev(st, rule, now.Add(-2*time.Hour), schemas.AlertFired, 1, now.Add(-2*time.Hour))
	recentResolved := ev(st, rule, now.Add(-2*time.Hour), schemas.AlertResolved, 0, now.Add(-30*time.Minute))
	firing := ev("TB-HOIAN", rule, t0, schemas.AlertFired, 2, t0)
	for _, e := range []schemas.AlertEvent{old, oldResolved, recent, recentResolved, firing} {
		if !s.Apply(e) {
			t.Fatalf("Apply(%s) = false", e.EventID)
		}
	}
	// Replayed history resolved long ago is dropped at once; a late
	// duplicate does not bring it back.
	if _, ok := s.Get(old.ID); ok {
		t.Error("alert resolved 10h ago is still held with a 1h retention")
	}
	if s.Apply(ev(st, rule, t0, schemas.AlertEscalated, 2, t0.Add(30*time.Second))) {
		t.Error("a late event of an aged-out alert was applied")
	}
	if s.ApplyAction(act(t, old.ID, schemas.ActionAck, "lan", "", now)) {
		t.Error("an action on an aged-out alert was applied")
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (recently resolved, firing)", s.Len())
	}
	now = now.Add(45 * time.Minute)
	if n := s.Sweep(); n != 1 {
		t.Errorf("Sweep dropped %d, want 1", n)
	}
	if _, ok := s.Get(recent.ID); ok {
		t.Error("alert resolved 75m ago is still held after Sweep")
	}
	if _, ok := s.Get(firing.ID); !ok {
		t.Error("a firing alert was dropped")
	}
}

func TestBounds(t *testing.T) {
	s := store.New()
	const st, rule = "VG-AINGHIA", "water_level"
	fired := ev(st, rule, t0, schemas.AlertFired, 1, t0)
	s.Apply(fired)
	for i := 1; i <= store.MaxHistory+50; i++ {
		s.Apply(ev(st, rule, t0, schemas.AlertEscalated, 1+i%2, t0.Add(time.Duration(i)*time.Second)))
	}
	a, _ := s.Get(fired.ID)
	if len(a.History) != store.MaxHistory || a.HistoryDropped != 51 || a.History[0].At.Before(t0.Add(51*time.Second)) {
		t.Errorf("history: %d entries, %d dropped, first at %s; want %d, 51, the oldest dropped",
			len(a.History), a.HistoryDropped, a.History[0].At, store.MaxHistory)
	}
	for i := 0; i < store.MaxOrphans; i++ {
		if !s.ApplyAction(act(t, fmt.Sprintf("XX-%d", i), schemas.ActionAck, "lan", "", t0)) {
			t.Fatalf("orphan %d refused", i)
		}
	}
	if s.ApplyAction(act(t, "XX-over", schemas.ActionAck, "lan", "", t0)) {
		t.Error("an orphan over MaxOrphans was held")
	}
}

// A resolved event read before a later-stamped escalation (out of order
// after a replay) still resolves the alert. Before the fold rewrite the
// resolved event was skipped as "older" and the alert stayed firing.
func TestOlderResolvedStillResolves(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	fired := ev(st, rule, t0, schemas.AlertFired, 1, t0)
	esc := ev(st, rule, t0, schemas.AlertEscalated, 3, t0.Add(20*time.Minute))
	resolved := ev(st, rule, t0, schemas.AlertResolved, 0, t0.Add(10*time.Minute))
	s := store.New()
	for _, e := range []schemas.AlertEvent{fired, esc, resolved} {
		s.Apply(e)
	}
	a, _ := s.Get(fired.ID)
	if a.State != store.Resolved || a.ResolvedAt == nil || !a.ResolvedAt.Equal(resolved.At) {
		t.Errorf("state=%s resolved_at=%v, want resolved at %s", a.State, a.ResolvedAt, resolved.At)
	}
}

// TestVersionMovesWithEveryChange: an event, an action and a sweep that
// drops an alert each move Version; reads and a sweep that drops nothing
// do not.
func TestVersionMovesWithEveryChange(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	now := t0
	s := store.NewWithOptions(store.Options{ResolvedRetention: time.Hour, Now: func() time.Time { return now }})
	v := s.Version()
	moved := func(what string, want bool) {
		t.Helper()
		if got := s.Version(); (got != v) != want {
			t.Fatalf("%s: version %d → %d, moved want %v", what, v, got, want)
		}
		v = s.Version()
	}
	fired := ev(st, rule, t0, schemas.AlertFired, 1, t0)
	s.Apply(fired)
	moved("an event", true)
	s.List(store.Filter{})
	s.Get(fired.ID)
	moved("reads", false)
	s.ApplyAction(act(t, fired.ID, schemas.ActionAck, "lan", "", t0.Add(time.Minute)))
	moved("an ack", true)
	s.Sweep()
	moved("a sweep that drops nothing", false)
	s.Apply(ev(st, rule, t0, schemas.AlertResolved, 0, t0.Add(2*time.Minute)))
	moved("the all-clear", true)
	now = t0.Add(3 * time.Hour)
	if n := s.Sweep(); n != 1 {
		t.Fatalf("Sweep dropped %d, want 1", n)
	}
	moved("a sweep that drops the resolved alert", true)
}

// TestChangedSince: the journal names each alert an event, an action or
// a sweep changed after a version, once, and gives the version to ask
// from next; a version older than the journal is refused (ok false).
func TestChangedSince(t *testing.T) {
	const st = "VG-AINGHIA"
	now := t0
	s := store.NewWithOptions(store.Options{ResolvedRetention: time.Hour, Now: func() time.Time { return now }})
	changed := func(v uint64, want ...string) uint64 {
		t.Helper()
		ids, cur, ok := s.ChangedSince(v)
		if !ok {
			t.Fatalf("ChangedSince(%d): not ok", v)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("ChangedSince(%d) = %v, want %v", v, ids, want)
		}
		if cur != s.Version() {
			t.Fatalf("ChangedSince(%d) version %d, Version %d", v, cur, s.Version())
		}
		return cur
	}
	v := changed(0)
	a := ev(st, "water_level", t0, schemas.AlertFired, 1, t0)
	b := ev(st, "rainfall", t0, schemas.AlertFired, 1, t0)
	s.Apply(a)
	s.Apply(b)
	s.Apply(ev(st, "water_level", t0, schemas.AlertEscalated, 2, t0.Add(time.Minute)))
	v = changed(v, a.ID, b.ID)
	v = changed(v)
	s.ApplyAction(act(t, b.ID, schemas.ActionAck, "lan", "", t0.Add(time.Minute)))
	v = changed(v, b.ID)
	s.Apply(ev(st, "rainfall", t0, schemas.AlertResolved, 0, t0.Add(2*time.Minute)))
	v = changed(v, b.ID)
	now = t0.Add(3 * time.Hour)
	if n := s.Sweep(); n != 1 {
		t.Fatalf("Sweep dropped %d, want 1", n)
	}
	changed(v, b.ID)
	for i := 0; i < 9000; i++ {
		s.ApplyAction(act(t, a.ID, schemas.ActionComment, "lan", fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second)))
	}
	if _, _, ok := s.ChangedSince(v); ok {
		t.Fatal("ChangedSince of a version 9,000 changes back: ok, want refused")
	}
	if ids, _, ok := s.ChangedSince(s.Version() - 10); !ok || !slices.Equal(ids, []string{a.ID}) {
		t.Fatalf("ChangedSince of 10 changes back = %v, %v; want [%s]", ids, ok, a.ID)
	}
}
