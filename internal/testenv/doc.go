// Package testenv connects integration tests to the real servers that
// deployments/local/services runs on this machine: Mosquitto 2 (MQTT),
// Apache Kafka 4 in KRaft mode and InfluxDB 2, all on loopback.
//
// The script writes .cache/services/env; `make test` sources it before
// `go test`. By hand:
//
//	deployments/local/services up
//	set -a; source .cache/services/env; set +a
//	go test -race ./...
//
// A test asks for what it needs:
//
//	env := testenv.RequireKafka(t)        // or RequireMQTT, RequireInflux, Services (all)
//	topic := testenv.UniqueName(t, "readings")
//
// When the environment variables are missing the test is skipped with a
// hint, except under CI=true, where it fails: CI must never pass by
// skipping its integration tests.
//
// StopService and StartService stop and start one server through the
// script for fault-injection tests. The servers are shared by every test
// package, and `go test ./...` runs packages in parallel, so a test that
// stops a server must tolerate, and cause, failures only in tests that
// expect them: keep such tests in a package of their own that is run
// serially, and always restart what was stopped (StopService registers a
// cleanup that does).
package testenv
