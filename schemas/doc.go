// Package schemas holds Resilience's wire contracts: the MQTT topics devices
// publish on, the device reading message (v1 JSON and SenML), the normalised
// record the collectors write to the Kafka `readings` topic, the alert event
// the processor writes to the `alerts` topic, and the station registry.
//
// The JSON Schema files beside this package (schemas/json/*.schema.json) are
// the language-neutral form of the same contracts; the Go types here are the
// reference implementation and the decoders are fuzzed.
//
// Contract rules:
//   - Station ids match [A-Za-z0-9_-]{1,64}. Anything else is rejected before
//     it can become an MQTT topic level, a Kafka key or an InfluxDB tag.
//   - Values are converted to the canonical unit of their sensor kind at
//     ingest and checked against the kind's physical bounds; NaN and Inf are
//     rejected.
//   - Every rejection carries a Reason, a short stable string used as a
//     metric label and written with the original bytes to the dead-letter
//     topic.
package schemas
