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
//     The PUBACKs of a batch leave together: the connection (batchconn.go,
//     tcp and TLS schemes) sends what paho writes at most 1 ms later, in
//     one send, and reads ahead. A send that fails closes the connection;
//     the broker redelivers what was not acknowledged (duplicates, never
//     a loss).
//   - Batches: one Kafka write at a time, each of what queued while the
//     previous one was in flight (at most BatchSize; BatchWait, default 0,
//     can make a partial batch wait for more), so an idle collector
//     forwards a reading at once and a busy one in full batches.
//   - At most MaxUndelivered messages are held unacknowledged. When that
//     many are waiting (Kafka slow or down) the collector stops taking new
//     ones; the broker's in-flight window then fills and the broker keeps the
//     rest. A retryable Kafka failure (network, leader election, not enough
//     replicas) is retried with backoff until it succeeds or the collector
//     stops, and an unacknowledged message is redelivered by the broker.
//   - A permanent Kafka refusal of one message (too large, invalid record,
//     not authorised; see kafkax.PermanentReason and PermanentError) is
//     never retried: the offender is found (kafka.WriteErrors per message,
//     then single writes, since a broker refuses a whole partition batch),
//     its record becomes a dead letter with reason producer_rejected, a
//     refused dead letter is written again without its payload, and if even
//     that is refused the message is dropped; every step is logged and
//     counted (resilience_ingest_kafka_refused_total,
//     resilience_ingest_dropped_total), and the rest of the batch is written.
//     A dead letter carries at most schemas.MaxDeadLetterPayload bytes of the
//     payload plus its size and SHA-256, so it fits any sane Kafka limit.
//   - Every station has a bounded share: a token bucket (StationRate per
//     second, StationBurst) and at most StationMaxUndelivered messages held.
//     A message over the rate goes to a second lane (at most half of
//     MaxUndelivered) and is written like any other, after the main lane
//     (fair queuing: a backlog the broker delivers at once after an outage
//     is never dropped); the station's later messages follow it there, so
//     its readings keep their order. A message beyond StationMaxUndelivered
//     is dead-lettered with reason rate_limited without being decoded, so
//     its fact is recorded and it is acknowledged like any other: only a
//     flooding station loses its excess. Batches take the main lane first,
//     so a station within its share is never queued behind another's flood.
//     Stations not in the registry share one bucket; the map of shares
//     never grows.
//   - Ready is nil only while the connection is up and the broker granted
//     every subscription at QoS 1; a lost connection or a refused
//     subscription (SUBACK 0x80) makes it say why, and the subscription is
//     retried with backoff.
//   - Messages are handled one at a time in arrival order, so a station's
//     readings keep their order into its Kafka partition (its rate-limited
//     excess goes to the dead-letter topic, never between its readings). The handler waits
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
