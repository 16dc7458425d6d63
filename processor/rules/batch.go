package rules

import (
	"slices"

	"github.com/resilience-project/resilience/schemas"
)

// SortByEventTime sorts recs by event time (ts), stably, so records with
// equal ts keep their arrival order. Applied in this order, a backlog
// replayed newest first is folded in order, one step per reading, instead
// of refolding what each late reading changes (see BenchmarkApplyReverse:
// about 2 to 3 times the CPU time of in-order records).
//
// Use it only where the grouping of records is itself deterministic
// (files, backtests). The processor must not sort its Kafka batches: batch
// boundaries differ when a crash replays the log, so the apply order, and
// with it an alert's start and id, would differ too, and a replay would no
// longer emit the same events.
func SortByEventTime(recs []*schemas.Record) {
	slices.SortStableFunc(recs, func(a, b *schemas.Record) int { return a.TS.Compare(b.TS) })
}
