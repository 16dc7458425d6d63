// Package basin evaluates basin-scope composite rules (rules file: kind
// composite, scope basin): AND/OR of other rules across the stations of a
// basin, e.g. "heavy 12 h rain at some station AND rising water at some
// station of the same basin", or "two stations at BĐ II or above".
//
// It runs in the alerts service, the one place that sees every station's
// alert events (processors see only their own partitions). The evaluator
// folds station alert events into the current level of every (station,
// rule) and compares, for every basin rule and basin, the condition with
// the last basin event emitted; Evaluate returns the events that make them
// agree. The rules come from the rules file model (schemas/rulespec); the
// alerts service does not compile in the processor's rule engine.
//
// Contract:
//   - Replay-safe: basin events read back from the alerts topic are folded
//     in with Observe too, so after a restart (replay, then Evaluate) only
//     what is missing is emitted: no basin alert re-fires, none is lost.
//   - Events are deterministic: the alert id derives from the basin
//     station id (BasinStation), the rule name and the event time of the
//     station event that made the condition true.
//   - Arrival order, not event time, decides: a basin condition is the
//     state of the station alerts as they arrive, like Alertmanager's
//     grouping. Run one alerts service per alerts topic; two would both
//     emit.
package basin
