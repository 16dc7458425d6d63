package influxsink

import "errors"

// ErrSpoolFull is returned (wrapped) by Sink.Write, at once and without a
// request to InfluxDB, when InfluxDB did not take a batch and the spool
// cannot either: it holds influx.spool_max_bytes, or its file system has
// less than influx.spool_min_free_bytes free. Nothing of the batch was
// stored; the caller keeps its own copy (the processor re-reads the records
// from Kafka) and tries again later. Sink.Full reports the condition.
var ErrSpoolFull = errors.New("influxsink: spool full")
