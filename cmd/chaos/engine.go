package main

import (
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// engineEvaluate is the expected-events oracle of the ledger: the
// processor's own rule engine with the default rules the scenario's binary
// runs (alert and event ids are deterministic, so the pipeline must produce
// the same events).
func engineEvaluate(reg *schemas.Registry) harness.Evaluate {
	eng, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	return func(station string, recs []schemas.Record) ([]schemas.AlertEvent, error) {
		if err != nil {
			return nil, err
		}
		return eng.Replay(station, recs), nil
	}
}
