// Package store keeps the lifecycle of every alert, folded from two
// streams: the processor's alert events (fired, escalated, deescalated,
// resolved; deduplicated by EventID) and the operators' actions (ack,
// unack, resolve, comment, assign; deduplicated by ActionID).
//
// States: firing → acknowledged (who, when, note; unack returns it to
// firing) → resolved (the processor's all-clear, or an operator's resolve
// with a reason). Resolved is final. Every event and action is kept in the
// alert's History (bounded by MaxHistory, oldest dropped first).
//
// The fold is order-independent within each stream's own rules, so every
// replica and every replay reaches the same state whatever the interleaving
// of the two topics: level and values follow the event with the latest At;
// acknowledged follows the latest ack/unack action (by At, then ActionID);
// resolved holds once any resolve is folded in. An action read before its
// alert's first event (the topics are read concurrently) is held
// (at most MaxOrphans) and applied when the alert appears.
//
// Memory is bounded: a resolved alert is dropped (Sweep, and on Apply for
// an alert already resolved longer ago) once it has been resolved for
// Options.ResolvedRetention; its id is remembered as gone for another
// retention so that a late duplicate event does not bring it back. The
// history stays in InfluxDB and in the topics. The store is safe for
// concurrent use.
package store
