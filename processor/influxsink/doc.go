// Package influxsink writes line protocol to InfluxDB 2 without losing a
// point while InfluxDB is down.
//
// Contract of Sink.Write: when it returns nil, the lines are either in
// InfluxDB or durably (fsync) in the local spool, from which Run drains them
// into InfluxDB once it answers again. So the processor can commit its
// Kafka offsets and keep raising alerts during an InfluxDB outage.
//
// The spool is bounded: influx.spool_max_bytes of line protocol, and never
// below influx.spool_min_free_bytes of free disk (checked with statfs
// before every spool write). A batch that does not fit is refused at once
// with ErrSpoolFull, without a request to InfluxDB: nothing of it was
// stored, and the caller must keep its own copy (the processor holds its
// commit and re-reads the records from Kafka, see package processor). Write
// also returns an error when the spool file cannot be written (a disk
// error); then, too, the caller must not commit. Metrics:
// resilience_influx_spool_bytes, resilience_influx_spool_limit_bytes,
// resilience_influx_spool_batches, resilience_influx_spool_refused_total.
//
// The drain merges spool files into requests of up to
// influx.drain_batch_bytes (gzip), sent by influx.drain_writers concurrent
// writers, in no particular order: points are idempotent (the same
// measurement, tags and timestamp give the same point), so order does not
// matter. BenchmarkDrain measures its rate. A merged request that InfluxDB
// refuses as data (400, 413, 422) is retried file by file, and only the
// refused file is set aside under rejected/ for an operator.
//
// It posts each request itself through the client's HTTP service (token,
// error answers as *http.Error with the status code), synchronously, with
// its own retry (the client's async WriteAPI drops batches after its
// retries, and its Flush does not wait), gzip (BestSpeed, one reused writer per concurrent request, where the
// client made a new default-level writer and a goroutine per request), and
// millisecond precision.
package influxsink
