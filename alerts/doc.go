// Package alerts is the alerts service: it consumes alert events from the
// Kafka `alerts` topic and operator actions from `alerts.actions`, folds
// both into the store (package alerts/store: firing → acknowledged →
// resolved, with history), and hands events and acknowledgements to the
// dispatcher (package alerts/dispatch), which notifies through the
// channels BuildChannels makes from the routing file (alerts/route).
//
// Startup: the service replays both topics from the beginning into the
// store, so the store survives restarts without a database of its own and
// every replica folds the same state. Events are deduplicated by EventID,
// actions by ActionID. The legacy Notifiers see live events only. The
// Dispatcher is given live events and the replayed events younger than
// Options.NotifyMaxAge; its notification log (alerts/nflog) decides what
// was already notified, so an alert raised while the service was down is
// notified when it comes back, and one already notified is not notified
// again.
//
// Operator actions (Act, POST /api/v1/alerts/{id}/ack|resolve) are
// produced to `alerts.actions` (acks=all) and applied when they come back
// from the topic; the API answers 202 once the action is durable.
//
// Silences (CreateSilence, ExpireSilence, Silences) are records on the
// same compacted actions topic (alerts/silence.Record, key "silence:"+id,
// each a snapshot of the whole silence, so compaction keeps what it is),
// folded into Options.Silences, the set the dispatcher asks: every replica
// and every restart mutes the same alerts. An expiry is final whatever
// order records fold in. A silence is in the creating replica's set when
// CreateSilence returns; on start, an event replayed before the actions
// topic's silences were folded may be decided unmuted only if its group
// flushes first (group_wait 0).
//
// Crash semantics, precisely:
//
//   - Store state is at-least-once in, exactly-once in effect: a record is
//     folded once per process (dedup ids), and a restart re-folds the
//     topics from the start.
//   - Notifications: the dispatcher writes the intent (nflog, fsync or
//     Kafka acks=all) before it queues a send, and the final record after
//     the channel confirmed. A crash before the intent: the event is
//     replayed at start and decided again (same deterministic id, nflog.Key).
//     A crash between intent and send, or between send and MarkSent: the
//     intent is pending and Dispatcher.Run resends it with the SAME id. So
//     delivery is at-least-once; a raw duplicate is possible only for a
//     crash between the channel's delivery and MarkSent, and it carries the
//     same idempotency key (webhook X-Resilience-Notification-Id /
//     Idempotency-Key, email Message-ID, siren command id). Exactly-once
//     holds only at a receiver that deduplicates on that key (the siren
//     firmware and the Maildir by Message-ID do; a plain webhook consumer
//     must).
//   - Replayed events older than NotifyMaxAge are never notified; an event
//     replayed after its nflog entry was compacted (nflog retention) would
//     be notified again, hence notify_max_age < nflog retention.
//   - Test knob: RESILIENCE_CRASHPOINT=alerts.after_consume or
//     alerts.after_notify makes the process SIGKILL itself at that point
//     (package alerts/crashpoint; inert when unset, not a config key), for
//     the crash tests of cmd/resilience.
//   - Repeat, escalation and group_interval timers restart from zero after
//     a restart (see alerts/dispatch): a repeat or escalation may come up to
//     one interval late, never early or twice for the same slot.
package alerts
