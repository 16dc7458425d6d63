// Package dispatch turns alert events into notifications, laid out like
// Alertmanager's dispatcher and notification pipeline:
//
//   - Grouper (pure, clock passed in): each event joins one group per
//     matching route (alerts/route: group_by); a group's first
//     notification waits group_wait, later changes are batched every
//     group_interval; an unchanged group with a firing, unacknowledged alert
//     is repeated every repeat_interval; escalation tiers are notified after
//     their timeout since the first notification (or at once when a channel
//     could not confirm, notify.ErrUnconfirmed), and receive the updates
//     after that; silences and inhibition hide alerts from notifications
//     (a muted alert is notified once it is no longer muted); a resolved
//     alert is told only to receivers that were told it fired.
//   - Dispatcher: the intent of every notification is written to the
//     notification log (alerts/nflog) before it is queued; one worker per
//     channel target sends with backoff (internal/retry) and records it sent,
//     so a slow or failing channel delays only its own queue; Submit only
//     updates the groups and never blocks on a channel. On start, Run resends
//     the log's pending notifications with their original ids.
//
// After a restart the grouper's timers (group_interval, repeat, escalation)
// start afresh: the log prevents repeating what was already delivered, but a
// repeat or an escalation may come up to one interval later than it would
// have without the restart.
package dispatch
