package rules

import "github.com/resilience-project/resilience/schemas"

// Replay applies recs, in order, to a fresh state of station and returns
// every event they caused: what a processor that saw only these records
// emits (the expected events of a test ledger, a quick what-if).
func (e *Engine) Replay(station string, recs []schemas.Record) []schemas.AlertEvent {
	st := e.NewState(station)
	var out []schemas.AlertEvent
	for i := range recs {
		out = append(out, e.Apply(st, &recs[i]).Events...)
	}
	return out
}
