// Package lineproto encodes readings and alert events as InfluxDB line
// protocol, the project's storage layout (see README "Where the data lands").
//
// Contracts:
//   - The output for a given input is deterministic, so writing the same
//     reading twice produces the same point (InfluxDB overwrites a point with
//     the same measurement, tag set and timestamp: idempotent by design).
//   - Tag values are station registry strings and sensor kinds. Station ids
//     are allowlisted upstream; every tag and field string is escaped anyway,
//     and newlines are replaced, so no input can inject a second point.
//   - Non-finite floats are never written (InfluxDB rejects NaN and Inf);
//     a non-finite field is dropped and ErrNonFinite reported.
//   - Timestamps are in milliseconds (precision ms).
package lineproto
