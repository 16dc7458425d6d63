// Command chaos is the fault-injection suite (`make chaos`): each scenario
// runs the real resilience binary (ingest, process and alerts as separate
// processes) against the real Mosquitto, Kafka and InfluxDB under a steady
// load from per-station sequenced QoS 1 publishers, injects one fault, and
// checks with a ledger that every published (station, seq) is in InfluxDB
// exactly once, every expected alert event exists (and no other), and every
// malformed message is dead-lettered with its reason. It prints a table:
// readings lost, duplicates, unexpected points, dead-letter mismatches,
// alert events missing or extra, time to drain after the fault, peak
// memory and the publish-to-alert p99 of readings published during the
// fault.
//
// Usage (the servers must be up and their environment sourced):
//
//	deployments/local/services up
//	set -a; source .cache/services/env; set +a
//	go run ./cmd/chaos                 # every scenario, issue durations
//	go run ./cmd/chaos -short          # the short ones (as `make test` runs them)
//	go run ./cmd/chaos -scenarios F2,F7
//
// The scenarios stop, kill and freeze the shared servers: run nothing else
// against them meanwhile. Every server is started again when a scenario
// ends, also on failure. The short scenarios are also Go tests
// (TestChaos in this package), which `make test` runs after the other
// packages.
package main
