// Package filesink keeps readings and alerts when no InfluxDB is configured
// (the embedded laptop mode): it appends line protocol to one file per UTC
// day under a directory, fsyncing each batch before Write returns.
//
// The files are ordinary InfluxDB line protocol with millisecond timestamps,
// so `influx write --precision ms --file points/2026-10-28.lp` loads them into
// an InfluxDB later. A batch replayed after a crash is appended again; the
// duplicate lines are the same points, so loading stays idempotent.
package filesink
