package inhibit

import (
	"strings"

	"github.com/resilience-project/resilience/schemas"
)

// Rule names.
const (
	StationOffline = "station-offline"
	HigherLevel    = "higher-level"
	Basin          = "basin"
)

// OfflineRule is the rule name of the processor's offline alerts.
const OfflineRule = "offline"

// BasinPrefix starts the station id of basin alerts (alerts/basin.StationPrefix).
const BasinPrefix = "BASIN-"

// Rule mutes target while source is firing, when Mutes says so.
type Rule struct {
	Name  string
	Mutes func(source, target schemas.AlertEvent) bool
}

// Defaults are the built-in rules (see the package documentation).
func Defaults() []Rule {
	return []Rule{
		{Name: StationOffline, Mutes: func(s, t schemas.AlertEvent) bool {
			return s.Rule == OfflineRule && t.Rule != OfflineRule && s.Station == t.Station
		}},
		{Name: HigherLevel, Mutes: func(s, t schemas.AlertEvent) bool {
			same := s.ID == t.ID || s.Station == t.Station && s.Rule == t.Rule
			return same && s.Level > t.Level
		}},
		{Name: Basin, Mutes: func(s, t schemas.AlertEvent) bool {
			return strings.HasPrefix(s.Station, BasinPrefix) && !strings.HasPrefix(t.Station, BasinPrefix) &&
				s.Basin != "" && s.Basin == t.Basin
		}},
	}
}

// Inhibitor applies rules.
type Inhibitor struct{ rules []Rule }

// New returns an Inhibitor with rules (Defaults() for the built-in ones).
func New(rules []Rule) *Inhibitor { return &Inhibitor{rules: append([]Rule(nil), rules...)} }

// Muted reports whether target is muted by one of active (the latest events
// of the alerts firing now) and by which rule. An event never mutes itself;
// resolved and de-escalated targets and non-firing sources are ignored.
func (in *Inhibitor) Muted(target schemas.AlertEvent, active []schemas.AlertEvent) (string, bool) {
	if target.Kind == schemas.AlertResolved || target.Kind == schemas.AlertDeescalated {
		return "", false
	}
	for _, r := range in.rules {
		for _, s := range active {
			if s.EventID == target.EventID || s.Kind == schemas.AlertResolved {
				continue
			}
			if r.Mutes(s, target) {
				return r.Name, true
			}
		}
	}
	return "", false
}
