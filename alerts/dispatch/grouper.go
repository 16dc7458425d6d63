package dispatch

import (
	"slices"
	"sort"
	"time"

	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/schemas"
)

// Decision is one notification the grouper decided to send to one
// receiver: the group's current alerts (their latest events, muted ones
// left out).
type Decision struct {
	Receiver string
	Route    string
	GroupKey string
	Tier     int
	Repeat   int
	// Slot distinguishes repeats in the notification key: the repeat
	// interval's time slot (Unix time / repeat_interval), 0 for a first
	// notification or an update. A repeat decided again after a restart in
	// the same slot gets the same key (and is not sent twice); the repeat
	// counter restarts with the process and so cannot be the key.
	Slot   int64
	Alerts []schemas.AlertEvent
}

// Muter is what the grouper asks before including an alert (silence.Set).
type Muter interface {
	Muted(l route.Labels, now time.Time) (string, bool)
}

// Seen tells whether an alert event was already given to a receiver (the
// notification log, across restarts). The grouper itself remembers what it
// decided since it started.
type Seen func(receiver, member string) bool

type group struct {
	key       string
	route     *route.Route
	created   time.Time
	flushAt   time.Time // next group_wait / group_interval flush
	first     time.Time // first notification (zero: none yet)
	lastSent  time.Time // last notification of any kind
	repeat    int
	tiers     int                           // escalation tiers triggered
	alerts    map[string]schemas.AlertEvent // alert id → latest event
	sent      map[string]map[string]bool    // receiver → members decided
	forceTier bool                          // escalate at the next Due (a channel could not confirm)
}

// Grouper is the pure decision logic of the dispatcher: grouping
// (group_by, group_wait, group_interval), repeat while unacknowledged,
// escalation tiers, silences and inhibition. It does no I/O and reads no
// clock: every call gets now. Not safe for concurrent use.
type Grouper struct {
	groups  map[string]*group
	active  map[string]schemas.AlertEvent // firing alerts, latest event
	acked   map[string]bool
	muter   Muter
	inhib   *inhibit.Inhibitor
	seen    Seen
	decided map[string]bool // receiver \x00 member decided by this grouper
}

// NewGrouper returns a grouper; muter, inhib and seen may be nil.
func NewGrouper(muter Muter, inhib *inhibit.Inhibitor, seen Seen) *Grouper {
	return &Grouper{groups: map[string]*group{}, active: map[string]schemas.AlertEvent{}, acked: map[string]bool{},
		muter: muter, inhib: inhib, seen: seen, decided: map[string]bool{}}
}

// Add folds an alert event into the groups of the routes it matches on tree.
// An older event of an alert than the one held is ignored.
func (g *Grouper) Add(tree *route.Tree, e schemas.AlertEvent, now time.Time) {
	if cur, ok := g.active[e.ID]; ok && e.At.Before(cur.At) {
		return
	}
	if e.Kind == schemas.AlertResolved {
		delete(g.active, e.ID)
	} else {
		g.active[e.ID] = e
	}
	l := route.LabelsOf(e)
	for _, r := range tree.Match(l) {
		key := r.GroupKey(l)
		gr := g.groups[key]
		if gr == nil {
			gr = &group{key: key, route: r, created: now, flushAt: now.Add(r.GroupWait),
				alerts: map[string]schemas.AlertEvent{}, sent: map[string]map[string]bool{}}
			g.groups[key] = gr
		}
		if cur, ok := gr.alerts[e.ID]; ok && e.At.Before(cur.At) {
			continue
		}
		gr.alerts[e.ID] = e
	}
}

// Ack acknowledges an alert: no more repeats or escalations for it.
func (g *Grouper) Ack(alertID string) { g.acked[alertID] = true }

// Unack withdraws an acknowledgement: repeats and escalations resume.
func (g *Grouper) Unack(alertID string) { delete(g.acked, alertID) }

// Acked reports whether alertID was acknowledged.
func (g *Grouper) Acked(alertID string) bool { return g.acked[alertID] }

// EscalateNow makes the group escalate to its next tier at the next Due (a
// channel could not get its delivery confirmed, e.g. a siren's missing ack).
func (g *Grouper) EscalateNow(groupKey string) {
	if gr := g.groups[groupKey]; gr != nil {
		gr.forceTier = true
	}
}

// Groups is the number of groups held.
func (g *Grouper) Groups() int { return len(g.groups) }

// Due returns the decisions due at now, in group key order.
func (g *Grouper) Due(now time.Time) []Decision {
	keys := make([]string, 0, len(g.groups))
	for k := range g.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Decision
	for _, k := range keys {
		out = append(out, g.due(g.groups[k], now)...)
	}
	return out
}

func member(e schemas.AlertEvent) string { return e.ID + "|" + e.EventID }

func (g *Grouper) due(gr *group, now time.Time) []Decision {
	r := gr.route
	alerts := g.visible(gr, now)
	firing := false
	for _, e := range alerts {
		if e.Kind != schemas.AlertResolved && !g.acked[e.ID] {
			firing = true
		}
	}
	var out []Decision
	// Escalation: tiers whose timeout passed since the first notification.
	if !gr.first.IsZero() && firing {
		for gr.tiers < len(r.Escalation) && (gr.forceTier || !now.Before(gr.first.Add(r.Escalation[gr.tiers].After))) {
			gr.forceTier = false
			gr.tiers++
			for _, rc := range r.Escalation[gr.tiers-1].Receivers {
				out = append(out, g.decide(gr, rc, gr.tiers, alerts, true))
			}
		}
	}
	gr.forceTier = false
	receivers := g.receivers(gr)
	if !now.Before(gr.flushAt) {
		news := false
		for _, rc := range receivers {
			if g.hasNew(gr, rc.name, alerts) {
				news = true
			}
		}
		if news {
			for _, rc := range receivers {
				if g.hasNew(gr, rc.name, alerts) {
					out = append(out, g.decide(gr, rc.name, rc.tier, alerts, false))
				}
			}
			gr.flushAt = now.Add(r.GroupInterval)
		} else if firing && gr.first.IsZero() && len(alerts) > 0 {
			// Everything was notified before a restart (the log knows it):
			// the repeat and escalation timers start again from now.
			gr.first, gr.lastSent = now, now
		} else if firing && !gr.lastSent.IsZero() && !now.Before(gr.lastSent.Add(r.RepeatInterval)) {
			gr.repeat++
			slot := now.Unix() / int64(r.RepeatInterval/time.Second)
			for _, rc := range receivers {
				d := g.decide(gr, rc.name, rc.tier, alerts, true)
				d.Slot = slot
				out = append(out, d)
			}
		}
	}
	for i := range out {
		if len(out[i].Alerts) == 0 {
			continue
		}
		if gr.first.IsZero() {
			gr.first = now
		}
		gr.lastSent = now
	}
	out = slices.DeleteFunc(out, func(d Decision) bool { return len(d.Alerts) == 0 })
	if len(out) == 0 && !gr.anyFiring() && !now.Before(gr.flushAt) && g.allNotified(gr, receivers, alerts) {
		g.drop(gr)
	}
	return out
}

// anyFiring reports whether an alert of the group (muted or not,
// acknowledged or not) still fires: such a group is kept.
func (gr *group) anyFiring() bool {
	for _, e := range gr.alerts {
		if e.Kind != schemas.AlertResolved {
			return true
		}
	}
	return false
}

type tiered struct {
	name string
	tier int
}

// receivers are the route's own and those of the tiers triggered so far.
func (g *Grouper) receivers(gr *group) []tiered {
	var out []tiered
	seen := map[string]bool{}
	add := func(n string, t int) {
		if !seen[n] {
			seen[n] = true
			out = append(out, tiered{n, t})
		}
	}
	for _, n := range gr.route.Receivers {
		add(n, 0)
	}
	for i := 0; i < gr.tiers; i++ {
		for _, n := range gr.route.Escalation[i].Receivers {
			add(n, i+1)
		}
	}
	return out
}

// visible are the group's alerts that no silence or inhibition mutes, by id.
func (g *Grouper) visible(gr *group, now time.Time) []schemas.AlertEvent {
	ids := make([]string, 0, len(gr.alerts))
	for id := range gr.alerts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var active []schemas.AlertEvent
	if g.inhib != nil {
		for _, e := range g.active {
			active = append(active, e)
		}
	}
	var out []schemas.AlertEvent
	for _, id := range ids {
		e := gr.alerts[id]
		if g.muter != nil {
			if _, ok := g.muter.Muted(route.LabelsOf(e), now); ok {
				continue
			}
		}
		if g.inhib != nil {
			if _, ok := g.inhib.Muted(e, active); ok {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func (g *Grouper) known(gr *group, receiver, m string) bool {
	return gr.sent[receiver][m] || g.decided[receiver+"\x00"+m] || g.seen != nil && g.seen(receiver, m)
}

// hasNew reports whether receiver has not been given some visible event.
// A resolved alert is news only to a receiver that was told it fired.
func (g *Grouper) hasNew(gr *group, receiver string, alerts []schemas.AlertEvent) bool {
	for _, e := range alerts {
		if !g.known(gr, receiver, member(e)) && (e.Kind != schemas.AlertResolved || g.toldAbout(gr, receiver, e.ID)) {
			return true
		}
	}
	return false
}

func (g *Grouper) toldAbout(gr *group, receiver, alertID string) bool {
	for m := range gr.sent[receiver] {
		if len(m) > len(alertID) && m[:len(alertID)+1] == alertID+"|" {
			return true
		}
	}
	return false
}

func (g *Grouper) allNotified(gr *group, receivers []tiered, alerts []schemas.AlertEvent) bool {
	for _, rc := range receivers {
		if g.hasNew(gr, rc.name, alerts) {
			return false
		}
	}
	return true
}

// decide builds a decision for receiver. A repeat or escalation carries the
// whole picture; an update carries the alerts that receiver should know of.
func (g *Grouper) decide(gr *group, receiver string, tier int, alerts []schemas.AlertEvent, all bool) Decision {
	d := Decision{Receiver: receiver, Route: gr.route.Path, GroupKey: gr.key, Tier: tier, Repeat: gr.repeat}
	if gr.sent[receiver] == nil {
		gr.sent[receiver] = map[string]bool{}
	}
	for _, e := range alerts {
		if e.Kind == schemas.AlertResolved && !g.toldAbout(gr, receiver, e.ID) {
			continue // never tell someone an alert they never heard of is over
		}
		if !all && e.Kind == schemas.AlertResolved && g.known(gr, receiver, member(e)) {
			continue
		}
		if all && (e.Kind == schemas.AlertResolved || g.acked[e.ID]) {
			continue
		}
		d.Alerts = append(d.Alerts, e)
	}
	for _, e := range d.Alerts {
		gr.sent[receiver][member(e)] = true
		g.decided[receiver+"\x00"+member(e)] = true
	}
	return d
}

func (g *Grouper) drop(gr *group) {
	delete(g.groups, gr.key)
	for _, e := range gr.alerts {
		if !g.inOtherGroup(gr, e.ID) {
			delete(g.acked, e.ID)
		}
		for r := range gr.sent {
			delete(g.decided, r+"\x00"+member(e))
		}
	}
}

func (g *Grouper) inOtherGroup(gr *group, alertID string) bool {
	for _, o := range g.groups {
		if _, ok := o.alerts[alertID]; ok && o != gr {
			return true
		}
	}
	return false
}
