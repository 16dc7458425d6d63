// Command bench is `make bench`'s side-by-side harness (issue 10): on the
// real servers (MQTT_URL, KAFKA_BROKERS, INFLUX_* from the environment, as
// deployments/local/services writes them) it measures, in one run, on one
// machine, each hop of the pipeline against a bare paho subscriber and
// against Telegraf, and prints one table with the ratios against the
// issue's targets, PASS or FAIL per row.
//
// The method:
//
//  1. MQTT -> Kafka, draining a backlog. For each drainer a persistent
//     session (clean session off) with its QoS 1 subscription is registered
//     first, under the drainer's own client id; then -readings QoS 1
//     readings from -stations stations are published while the drainer is
//     offline (the broker queues them for the session); then the drainer is
//     started and drains them: (1) a bare paho subscriber (this program
//     re-executed as `bench paho-drain`, so that /proc is per process: it
//     counts and acknowledges, nothing else; the ceiling), (2) Telegraf
//     (inputs.mqtt_consumer -> outputs.kafka, built by
//     deployments/local/telegraf/build-telegraf.sh with only its plugins),
//     (3) `resilience ingest`, then (4) two `resilience ingest` in one $share
//     group.
//  2. Kafka -> InfluxDB: the readings the collector wrote in (3) drained
//     by Telegraf (inputs.kafka_consumer -> outputs.influxdb_v2, parsing the
//     collector's records) and by `resilience process`, each into a bucket
//     of its own, through a counting proxy in front of InfluxDB that counts
//     the `reading` lines of every write InfluxDB accepted (2xx). Then the
//     Kafka bytes the processor wrote (every topic but readings and the
//     dead letters: state changelog, alerts) per reading, against the
//     reading's own record size.
//  3. The end-to-end load test (cmd/loadtest -mode servers) at each of
//     -e2e-rates for -e2e-duration, 1,000 stations: publish->alert p50/p99,
//     the backlog after the last publish, lost readings; then on the
//     embedded stack (-mode embedded: `run --dev`, one process) at each of
//     -e2e-embedded-rates (default 10,000 msg/s: whether it sustains it,
//     end to end within 2% of the rate, drained within 1 s of the end).
//
// Rates are messages (points) per second from the first to the last one
// observed: a drainer writing to Kafka is observed through the sum of its
// topic's end offsets, polled every 50 ms; a drainer writing to InfluxDB
// through the counting proxy; the paho subscriber times itself. CPU is
// utime+stime from /proc/<pid>/stat of the drainer's process(es), sampled
// at the same first and last observations (start-up excluded), given per
// 10,000 messages. The other processes' CPU over the drains (the servers'
// JVM, influxd, mosquitto, other users of the machine) is listed from /proc
// so that the reader knows what shared the cores.
//
// Usage (from the repository root, with the servers' env loaded):
//
//	go run ./cmd/bench                                   # the sizes
//	go run ./cmd/bench -readings 20000 -stations 200 -e2e-duration 10s
//	go run ./cmd/bench -skip-telegraf -skip-e2e          # a quick check
//
// Every hop has a timeout, and a drain that stops progressing for -stall
// fails with an error naming the hop and what it had reached. Everything a
// run creates (topics, buckets, sessions) is named after the run and removed
// at the end unless -keep.
package main
