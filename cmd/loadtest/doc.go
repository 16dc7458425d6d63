// Command loadtest is a development tool (not part of the product) that
// drives the real `resilience` binary end to end and measures it: N
// simulated stations publish readings at R messages/s over MQTT QoS 1, the
// readings go through the collector, Kafka and the stream processor, and
// alert events come back on the Kafka alerts topic.
//
// Usage (from the repository root):
//
//	go run ./cmd/loadtest -stations 200 -rate 1000 -duration 20s                # embedded brokers
//	set -a; source .cache/services/env; set +a
//	go run ./cmd/loadtest -stations 200 -rate 1000 -duration 20s -mode servers  # real servers
//
// What it does:
//
//  1. builds the resilience binary into a temporary directory and writes a
//     station registry of N stations (LT-00001 ...; alarm levels I 5.0 m,
//     II 5.5 m, III 7.0 m; interval 10m) and a config file;
//  2. starts `resilience run` on free loopback ports:
//     - mode embedded: `run --dev` with the embedded MQTT broker and
//     Kafka-protocol log and the line-protocol file sink, in a temporary
//     data dir; no server is needed;
//     - mode servers: the Mosquitto, Kafka and InfluxDB named by MQTT_URL,
//     KAFKA_BROKERS, INFLUX_URL, INFLUX_ORG, INFLUX_TOKEN_FILE and
//     RESILIENCE_SERVICES (written by deployments/local/services into
//     .cache/services/env; read by internal/testenv/harness), with a
//     unique Kafka topic prefix, consumer group, MQTT share group and a new
//     InfluxDB bucket, which are deleted afterwards (-keep keeps them);
//  3. waits for /readyz, then publishes R*D v1 readings (ts = now, seq
//     increasing per station) from -clients MQTT connections, paced to R
//     messages/s in total. Each station belongs to one connection so its
//     readings stay in order. Water levels are normal (4.78-4.82 m, varied
//     so the stuck-sensor check stays quiet) except that every -cycle
//     readings a station rises to about 5.6 m (above level II, a jump under
//     the 1 m spike limit) for -high readings and then falls back below the
//     level I clear point (5.0 - 0.15 m), so level:water_level alerts fire
//     and resolve over and over; station i's cycle is shifted by i mod
//     -cycle readings so the alerts are spread in time;
//  4. reads the run's alerts topic (new, so from its start) and, for every `fired`
//     event of rule level:water_level, takes latency = receive time -
//     publish time of the reading that caused it (the event's last
//     ReadingRef, by station and seq);
//  5. polls /metrics until resilience_processor_records_total (outcomes
//     other than duplicate, i.e. MQTT redeliveries, and unknown_station,
//     i.e. other publishers' readings on a shared broker) reaches the
//     number published, or -drain passes;
//  6. prints a summary: stations, target and achieved publish rate,
//     end-to-end throughput (published / (last processed - first publish)),
//     publish->alert latency p50/p90/p99/max, and any loss.
//
// Other flags: -clients and -inflight (publisher connections and their
// unacknowledged messages: when the system falls behind, PUBACKs slow the
// publishers down, so the achieved rate shows saturation), -cycle and
// -high (the alert pattern), -partitions, -drain, -influx=false (mode
// servers without InfluxDB: points go to files), -embedded-no-sync and
// -keep (keep the temporary directory with the binary's log, and the
// servers' topics and bucket). The summary also shows the latency by
// publish time, which tells warm-up and a growing backlog from steady
// state. Figures depend on what else the machine is running.
//
// The exit status is 1 if any reading was lost (not acknowledged by the
// broker, or not processed), if an expected fired event did not arrive,
// or if the run failed; 0 otherwise. The plumbing (build, processes,
// publishers, alert reader, metrics scrape, bucket and topic setup) is
// internal/testenv/harness, shared with the end-to-end tests and cmd/chaos. The binary's log is printed (tail) on
// failure and kept with -keep.
package main
