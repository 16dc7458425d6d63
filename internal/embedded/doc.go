// Package embedded runs the two brokers of the laptop mode in-process: an
// MQTT broker (mochi-mqtt, bolt persistence) and a Kafka-protocol log
// (franz-go kfake, DataDir persistence with fsync per batch). The
// collectors, processor and alerts service talk to them over TCP exactly as
// they talk to Mosquitto and Apache Kafka in production.
//
// Security: both listen on 127.0.0.1 by default. Without Dev, MQTT clients
// authenticate against a credentials file (bcrypt hashes); a device may
// publish only under stations/{its id}/ and must use its id as client id
// (or the id, '-' or '_', and a suffix), so no client can take over another
// client's persistent session; collectors may subscribe, not publish. With Dev
// (`resilience run --dev`) anonymous clients may publish and subscribe.
package embedded
