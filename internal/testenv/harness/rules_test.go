package harness

import (
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// engineEval is the processor's rule engine with the default rules over
// the scenario's registry, as cmd/chaos passes it.
func engineEval(s *Scenario) Evaluate {
	eng, err := rules.NewEngine(rules.DefaultRuleSet(), s.Registry)
	return func(station string, recs []schemas.Record) ([]schemas.AlertEvent, error) {
		if err != nil {
			return nil, err
		}
		return eng.Replay(station, recs), nil
	}
}
