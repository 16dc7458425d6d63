// Package harness runs the real `resilience` binary against the real
// Mosquitto, Kafka and InfluxDB for fault-injection scenarios (cmd/chaos)
// and end-to-end tests.
//
// A scenario is isolated from every other user of the shared servers: its
// own Kafka topic prefix, consumer group, MQTT share group and client ids,
// InfluxDB bucket and station registry (New). The pieces:
//
//   - Build compiles cmd/resilience once per run;
//   - Scenario.WriteConfig and Scenario.Start run `resilience ingest|process|alerts`
//     as processes (Proc: Stop, Kill, Pause/Resume, WaitReady, PeakRSS);
//   - Load runs one sequenced QoS 1 publisher per station at a steady rate and
//     records every message it sends, with its expected fate, in a Ledger;
//   - ExpectedEvents runs the project's own rule engine over the ledger to
//     get the alert events that must exist;
//   - AlertWatch, ScanTopic and InfluxSeqs read what the pipeline produced;
//   - Check compares the two and returns a Verdict (lost, duplicates,
//     missing and extra events);
//   - TCPProxy and HTTPProxy sit between a component and a server on
//     loopback and black-hole, delay or refuse its traffic;
//   - Services kills, stops, freezes and restarts the real servers through
//     deployments/local/services and its pid files.
//
// The same building blocks serve the end-to-end tests (cmd/resilience,
// each test a Scenario with Options.Prefix "e2e") and the load test
// (cmd/loadtest): BuildWith, StartProc (any mode and arguments, e.g. `run
// --dev`), FreeAddr, UniqueName, FromEnv, StationsYAML, CreateBucket,
// DeleteBucket, DeleteTopics, Publish (a fixed list of readings or raw
// messages from N connections, paced or not, a station's messages in
// order on one connection), Scrape and Metrics, and AlertsAPI.
//
// Nothing here is used by the product; it is test support.
package harness
