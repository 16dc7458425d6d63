// Package influxsink writes line protocol to InfluxDB 2 without losing a
// point while InfluxDB is down.
//
// Contract of Sink.Write: when it returns nil, the lines are either in
// InfluxDB or durably (fsync) in the local spool, from which Run drains them
// into InfluxDB, oldest first, once it answers again. So the processor can
// commit its Kafka offsets and keep raising alerts during an InfluxDB
// outage. Write returns an error only when the spool itself cannot be
// written (disk full), and then the caller must not commit.
//
// It uses the blocking write API with its own retry (the client's async
// WriteAPI drops batches after its retries, and its Flush does not wait),
// gzip, and millisecond precision. Writes are idempotent: the same lines
// give the same points.
package influxsink
