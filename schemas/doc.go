// Package schemas holds Resilience's wire contracts: the MQTT topics devices
// publish on, the device reading message (v1 JSON and SenML), the normalised
// record the collectors write to the Kafka `readings` topic, the dead letter
// written to `readings.dlq`, the alert event the processor writes to the
// `alerts` topic, and the station registry.
//
// The JSON Schema (draft 2020-12) files in schemas/json are the
// language-neutral form of the same contracts: reading-v1 (device message or
// array of them), senml (the accepted RFC 8428 subset), record-v1,
// dead-letter-v1, alert-event-v1 and stations (the registry YAML, e.g.
// deployments/config/stations.yaml). The Go types here are the reference
// implementation. Tests keep the two in step: enums, units, bounds and field
// names in the schema files are compared with Specs, DeadLetterReasons and the Go
// structs, and the examples in testdata/ are checked against both the
// schemas and the decoder. The decoders and the registry parser are fuzzed.
//
// Contract rules:
//   - Station ids match [A-Za-z0-9_-]{1,64}. Anything else is rejected
//     (ReasonBadStationID) before it can become an MQTT topic level, a Kafka
//     key or an InfluxDB tag; the payload's station must equal the topic's
//     (ReasonStationMismatch) and be in the registry (ReasonUnknownStation).
//   - Values are converted to the canonical unit of their sensor kind at
//     ingest and checked against the kind's physical bounds (Specs); NaN and
//     Inf are rejected (JSON cannot carry them, so "NaN" strings and numbers
//     beyond float64 such as 1e999 are ReasonNotFinite).
//   - Timestamps are RFC 3339 strings or epoch milliseconds, in
//     [2000-01-01, 3000-01-01) and at most DecodeOptions.MaxFuture (5 min)
//     ahead of the receive time.
//   - Payloads are parsed strictly, in one pass (not encoding/json, which
//     matches keys case-insensitively and lets the last duplicate win):
//     member names are exact and unique per object (ReasonDuplicateKey,
//     ReasonUnknownField), each sensor appears once per message
//     (ReasonDuplicateSensor), and every reading's sensor must be declared
//     by its station in the registry (ReasonUndeclaredSensor; the whole
//     message is rejected). rssi is within [MinRSSI, MaxRSSI] dBm. See
//     Decoder.Decode for the order of the checks.
//   - Payloads must be valid UTF-8 (checked while parsing, since
//     encoding/json would silently replace invalid bytes) and at most
//     DecodeOptions.MaxPayload bytes. A JSON array of messages (at most
//     MaxBatch) is accepted or rejected whole; the rejection detail names
//     the batch index.
//   - Every rejection is a *RejectError carrying a Reason, a short stable
//     string used as a metric label and written with the original bytes to
//     the dead-letter topic (NewDeadLetter keeps at most
//     MaxDeadLetterPayload bytes of the payload, with its size and SHA-256).
//     Details are bounded in size and quote device-supplied text.
package schemas
