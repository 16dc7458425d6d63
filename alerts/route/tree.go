package route

import (
	"slices"
	"strings"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Labels are an alert's routing labels (see the Label constants).
type Labels map[string]string

// LabelsOf returns the routing labels of an alert event.
func LabelsOf(e schemas.AlertEvent) Labels {
	return Labels{LabelDistrict: e.District, LabelBasin: e.Basin, LabelStation: e.Station,
		LabelSensor: string(e.Sensor), LabelRule: e.Rule, LabelSeverity: string(e.Severity)}
}

// Matchers select alerts: every named label must equal one of its values.
// An empty Matchers matches everything.
type Matchers map[string][]string

// Matches reports whether l satisfies every matcher.
func (m Matchers) Matches(l Labels) bool {
	for k, vals := range m {
		if !slices.Contains(vals, l[k]) {
			return false
		}
	}
	return true
}

// Route is one resolved node of the tree: every setting is filled in
// (inherited from the parent where the file left it unset). Do not modify
// a Route obtained from a Tree.
type Route struct {
	// Path is the route's key in the file, e.g. route.routes[1]; it names the
	// route in notification keys and logs.
	Path           string
	Matchers       Matchers
	Receivers      []string
	Continue       bool
	GroupBy        []string
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	Escalation     []Tier
	Children       []*Route
}

// GroupKey is the key of the group an alert with labels l falls in on this
// route: the route's path and the group_by label values.
func (r *Route) GroupKey(l Labels) string {
	var b strings.Builder
	b.WriteString(r.Path)
	for _, k := range r.GroupBy {
		b.WriteString("\x00")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(l[k])
	}
	return b.String()
}

// Tree is a validated, immutable routing configuration.
type Tree struct {
	root      *Route
	receivers map[string]Receiver
	names     []string
}

// Root is the root route.
func (t *Tree) Root() *Route { return t.root }

// Receiver returns the receiver named name.
func (t *Tree) Receiver(name string) (Receiver, bool) {
	r, ok := t.receivers[name]
	return r, ok
}

// ReceiverNames lists the receivers in file order.
func (t *Tree) ReceiverNames() []string { return slices.Clone(t.names) }

// Match returns the routes an alert with labels l is sent through: the
// deepest matching routes, depth first, stopping after a matching sibling
// unless it sets continue. The root always matches, so at least one route
// is returned.
func (t *Tree) Match(l Labels) []*Route {
	return match(t.root, l)
}

func match(r *Route, l Labels) []*Route {
	if !r.Matchers.Matches(l) {
		return nil
	}
	var out []*Route
	for _, c := range r.Children {
		m := match(c, l)
		if len(m) == 0 {
			continue
		}
		out = append(out, m...)
		if !c.Continue {
			break
		}
	}
	if len(out) == 0 {
		return []*Route{r}
	}
	return out
}

func build(c Config) *Tree {
	t := &Tree{receivers: make(map[string]Receiver, len(c.Receivers))}
	for _, r := range c.Receivers {
		t.receivers[r.Name] = r
		t.names = append(t.names, r.Name)
	}
	t.root = buildRoute("route", c.Route, nil)
	return t
}

func buildRoute(path string, rc RouteConfig, parent *Route) *Route {
	r := &Route{Path: path, Continue: rc.Continue}
	if parent != nil {
		*r = Route{Path: path, Continue: rc.Continue, Receivers: parent.Receivers, GroupBy: parent.GroupBy,
			GroupWait: parent.GroupWait, GroupInterval: parent.GroupInterval, RepeatInterval: parent.RepeatInterval,
			Escalation: parent.Escalation}
	}
	if len(rc.Matchers) > 0 {
		r.Matchers = Matchers{}
		for k, v := range rc.Matchers {
			r.Matchers[k] = slices.Clone(v)
		}
	}
	if len(rc.Receivers) > 0 {
		r.Receivers = slices.Clone(rc.Receivers)
	}
	if len(rc.GroupBy) > 0 {
		r.GroupBy = slices.Clone(rc.GroupBy)
	}
	if rc.GroupWait != nil {
		r.GroupWait = *rc.GroupWait
	}
	if rc.GroupInterval != nil {
		r.GroupInterval = *rc.GroupInterval
	}
	if rc.RepeatInterval != nil {
		r.RepeatInterval = *rc.RepeatInterval
	}
	if len(rc.Escalation) > 0 {
		r.Escalation = slices.Clone(rc.Escalation)
	}
	for i, cc := range rc.Routes {
		r.Children = append(r.Children, buildRoute(path+".routes["+itoa(i)+"]", cc, r))
	}
	return r
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
