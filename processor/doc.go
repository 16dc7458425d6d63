// Package processor is the stream processor: a consumer group on the Kafka
// `readings` topic that keeps per-station state, evaluates the rules of
// package rules, writes readings and alerts to the point sink (InfluxDB, or
// local files in embedded mode) and produces alert events to `alerts`.
//
// Processing contract, per partition, in this order for every batch:
//
//  1. FetchMessage a batch (no auto-commit).
//  2. Decode each record and fold it into its station's state (rules.Apply).
//  3. Both sinks, concurrently: write the batch's points and alert points to
//     the point sink (InfluxDB), and produce the batch's alert events to
//     `alerts` (acks=all, synchronous). Concurrently, so that an alert never
//     waits for a slow InfluxDB; both must succeed before step 4.
//  4. Write the changed station states to the compacted `processor.state`
//     changelog, on the same partition number as the readings.
//  5. Commit the offset after the batch.
//
// A step that fails is retried with backoff; later steps never run before
// earlier ones succeed. A crash anywhere replays the batch from the last
// commit against the state of the last changelog write, which is never newer
// than the alerts already produced (step 3 before 4). So no alert is lost;
// a replay may produce an alert event again, with the same deterministic
// EventID, which consumers deduplicate. Points are idempotent by
// construction (same measurement, tags and timestamp).
//
// State and rebalances: the processor uses a kafka-go ConsumerGroup
// directly, so it knows which partitions it owns. On every assignment it
// restores the state of those partitions from the changelog before it
// fetches a reading, and it runs the time-driven rules (offline) only for
// the stations of its partitions. N processors in one group split the
// stations.
//
// Stopping: cancelling Run's context is a soft stop; the batch in hand is
// finished (bounded by StopTimeout), then the group is left.
package processor
