// Package nflog is the durable notification log (outbox) of the alerts
// service: every notification is recorded as an intent before it is sent
// and as sent after the channel confirmed it, keyed by a deterministic id
// (Key: the channel target, escalation tier, repeat number and the alert +
// event ids it carries, see Member).
//
// Exactly-once delivery across crashes is impossible with an external side
// effect in general. What this log guarantees (see Log): nothing decided is
// lost (a Pending intent is resent after a restart), nothing is decided
// twice (Has), and a notification is delivered more than once only if the
// process died between the delivery and MarkSent, and then with the same
// idempotency key, on which the receiver deduplicates: webhooks carry it in
// X-Resilience-Notification-Id and Idempotency-Key, emails as their
// Message-ID, siren commands as their command id.
//
// Two implementations: File (one fsynced append-only file, for one
// replica) and Kafka (a compacted topic, alerts.nflog, shared by replicas;
// each replica decides only for the alerts of the partitions it owns and
// calls Refresh when it takes partitions over). The log is bounded: final
// entries are dropped by Compact after the retention (DefaultRetention, 7
// days), which must exceed how far back the alerts topic may be replayed.
package nflog
