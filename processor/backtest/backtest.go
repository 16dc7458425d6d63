package backtest

import (
	"sort"
	"time"

	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// Options tune Run.
type Options struct {
	// TargetRule and TargetLevel define the outcome lead times are measured
	// against: the first event of TargetRule at TargetLevel or above on the
	// station (default level:water_level, level 3 = BĐ III).
	TargetRule  string
	TargetLevel int
	// NoTick turns off offline evaluation. By default Tick runs before each
	// record with the clock at the newest timestamp seen in the input.
	NoTick bool
	// Progress, if set, is called with the records done so far and the
	// total, about every 1% (for a progress bar on long runs).
	Progress func(done, total int)
}

// Lead is how long before the target outcome an event warned.
type Lead struct {
	Event  schemas.AlertEvent
	Target time.Time
	Lead   time.Duration
}

// Result is what a backtest produced.
type Result struct {
	Events     []schemas.AlertEvent
	Leads      []Lead
	Notices    []rules.Notice
	Records    int
	Late       int
	Duplicates int
	// States are the final states by station.
	States map[string]*rules.State
}

// Run applies recs in the given (arrival) order to fresh states and
// returns every event, with lead times: for each fired or escalated event
// of another rule, or of the target rule below the target level, that came
// at or before the station's first target event, the time between them.
func Run(e *rules.Engine, recs []schemas.Record, opt Options) Result {
	if opt.TargetRule == "" {
		opt.TargetRule = "level:" + string(schemas.WaterLevel)
	}
	if opt.TargetLevel == 0 {
		opt.TargetLevel = 3
	}
	res := Result{States: map[string]*rules.State{}}
	var clock time.Time
	var ids []string // station ids in sorted order, for deterministic ticks
	for i := range recs {
		r := &recs[i]
		st := res.States[r.Station]
		if st == nil {
			st = e.NewState(r.Station)
			res.States[r.Station] = st
			ids = insertSorted(ids, r.Station)
		}
		if r.TS.After(clock) {
			clock = r.TS
		}
		if !opt.NoTick {
			for _, id := range ids {
				res.Events = append(res.Events, e.Tick(res.States[id], clock)...)
			}
		}
		out := e.Apply(st, r)
		res.Records++
		if out.Late {
			res.Late++
		}
		if out.Duplicate {
			res.Duplicates++
		}
		res.Events = append(res.Events, out.Events...)
		res.Notices = append(res.Notices, out.Notices...)
		if opt.Progress != nil && (i+1)%max(1, len(recs)/100) == 0 {
			opt.Progress(i+1, len(recs))
		}
	}
	if opt.Progress != nil {
		opt.Progress(len(recs), len(recs))
	}
	res.Leads = leads(res.Events, opt.TargetRule, opt.TargetLevel)
	return res
}

func insertSorted(ids []string, id string) []string {
	i := sort.SearchStrings(ids, id)
	ids = append(ids, "")
	copy(ids[i+1:], ids[i:])
	ids[i] = id
	return ids
}

// leads measures every warning before each station's first target event.
func leads(events []schemas.AlertEvent, rule string, level int) []Lead {
	target := map[string]time.Time{}
	for _, ev := range events {
		if ev.Rule == rule && ev.Level >= level && raised(ev) {
			if t, ok := target[ev.Station]; !ok || ev.At.Before(t) {
				target[ev.Station] = ev.At
			}
		}
	}
	var out []Lead
	for _, ev := range events {
		t, ok := target[ev.Station]
		if !ok || !raised(ev) || ev.At.After(t) || (ev.Rule == rule && ev.Level >= level) {
			continue
		}
		out = append(out, Lead{Event: ev, Target: t, Lead: t.Sub(ev.At)})
	}
	return out
}

func raised(ev schemas.AlertEvent) bool {
	return ev.Kind == schemas.AlertFired || ev.Kind == schemas.AlertEscalated
}
