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
//   - Messages are handled one at a time in arrival order, so a station's
//     readings keep their order into its Kafka partition. The handler waits
//     only while MaxUndelivered messages are unacknowledged; size the
//     broker's per-client in-flight window (Mosquitto max_inflight_messages)
//     at or below MaxUndelivered so it never waits. If it does wait long
//     (Kafka down with a larger window), the client may miss a keepalive and
//     reconnect; the broker then redelivers the unacknowledged messages:
//     duplicates, never loss.
//
// Delivery is at least once: a message can reach Kafka twice (a redelivery
// after a crash between the Kafka write and the ack). The processor
// recognises duplicates by (station, boot, seq).
package ingest
