// Package ingest is the MQTT collector: it subscribes to the device topics,
// validates every message against the contracts in package schemas and
// forwards the normalised records to the Kafka `readings` topic, keyed by
// station, and rejected messages to `readings.dlq` with a reason.
//
// Delivery contract (modelled on Telegraf's mqtt_consumer delivery tracking):
//
//   - Subscriptions are QoS 1 on a persistent session (stable client id,
//     clean session off) through a shared subscription ($share/{group}/...),
//     so several collectors split the load and the broker keeps messages
//     while no collector is connected.
//   - Auto-ack is off. A message is acknowledged to the broker only after
//     Kafka has confirmed (acks=all) the record or dead letter it became.
//   - At most MaxUndelivered messages are held unacknowledged. When that
//     many are waiting (Kafka slow or down) the collector stops taking new
//     ones; the broker's in-flight window then fills and the broker keeps the
//     rest. Nothing is dropped: a Kafka write is retried with backoff until
//     it succeeds or the collector stops, and an unacknowledged message is
//     redelivered by the broker.
//   - The handler passed to the MQTT client never blocks the client's
//     network loop (messages are dispatched concurrently; see Client).
//
// Delivery is at least once: a message can reach Kafka twice (a redelivery
// after a crash between the Kafka write and the ack). The processor
// recognises duplicates by (station, boot, seq).
package ingest
