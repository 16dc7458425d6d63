// Package archtest holds the architecture tests of the module: its tests
// read the import graph (`go list -json`) and fail when a package imports
// one of a layer above it. It has no code of its own.
//
// The layers, bottom up:
//
//   - schemas and schemas/*: the wire contracts and shared DTOs; they import
//     nothing of the module but schemas/*.
//   - internal/*: application-wide leafs (config plumbing, HTTP API, kafkax,
//     retry, embedded brokers, test environment); they import schemas and
//     other internal packages, never a component.
//   - components: ingest/**, processor/**, alerts/**; they import schemas,
//     internal and their own tree; alerts never imports processor nor the
//     reverse, and neither imports ingest (they meet through Kafka topics).
//   - cmd/*: the binaries, on top, wiring everything.
package archtest
