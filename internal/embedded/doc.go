// Package embedded runs the two brokers of the laptop mode in-process: an
// MQTT broker (mochi-mqtt with a bolt session store) and a Kafka-protocol
// log (franz-go kfake, DataDir persistence with fsync per batch). The
// collectors, processor and alerts service talk to them over TCP exactly as
// they talk to Mosquitto and Apache Kafka in production.
//
// Security: both listen on 127.0.0.1 by default. Without Dev, MQTT clients
// authenticate against a credentials file (bcrypt hashes); a device may
// publish only under stations/{its id}/ and must use its id as client id
// (or the id, '-' or '_', and a suffix), so no client can take over another
// client's persistent session; collectors may subscribe, not publish. With Dev
// (`resilience run --dev`) anonymous clients may publish and subscribe.
//
// Under load (MQTTConfig):
//
//   - Packets over max_packet_size (default 256 KiB) disconnect their client
//     before they are read into memory (TooLarge counts them).
//   - Flow control instead of drops: while a subscriber holds max_inflight
//     unacknowledged QoS 1 messages, publishes whose messages would go to it
//     wait on the publisher's read goroutine (its socket is not read), for
//     at most publish_wait and the publisher's keepalive; then the publisher
//     is disconnected without a PUBACK, so the device re-sends. A fast
//     publisher is slowed down; other publishers' messages are not dropped.
//     A shared subscription's message goes to a connected member with the
//     fewest unacknowledged messages.
//   - The session store is written behind: one bolt transaction per
//     store_flush_interval (default 5 ms) instead of one per in-flight
//     change on the client's read goroutine. A process crash loses at most
//     that window of session changes; storeHook states exactly what that
//     means for readings.
package embedded
