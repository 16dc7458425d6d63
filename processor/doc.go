// Package processor is the stream processor: a consumer group on the Kafka
// `readings` topic that keeps per-station state, evaluates the rules of
// package rules, writes readings and alerts to the point sink (InfluxDB, or
// local files in embedded mode) and produces alert events to `alerts`.
//
// The promise is "lose no reading and no alert" and "keep alerting while
// InfluxDB is down". So alerts and state never wait for points.
//
// Processing contract, per partition, for every batch in this order:
//
//  1. FetchMessage a batch (no auto-commit): up to batch_size records
//     within batch_wait, each decoded and folded into its station's state
//     (rules.Apply) as it arrives; the station is marked dirty.
//  2. The alert events a record raises go at once, before the next record
//     is fetched, to the partition's alert lane (alertlane.go), which
//     produces them to `alerts` (acks=all, in offset order, retried until
//     produced; events raised meanwhile go together), through
//     Deps.AlertWriter when set (resilience gives it a connection of its
//     own: Kafka answers a connection's requests one at a time, so an
//     alert queued behind a changelog write would wait for it): an alert
//     waits neither for batch_wait nor for a telemetry write, and the evaluation
//     does not wait for the alert (an alert storm, one alert per ten
//     readings, does not cut the batches short).
//  3. Hand the batch's points (readings, alerts, notices) to the
//     partition's point writer, which offers each batch to the point sink
//     once, in offset order, while the next batches are evaluated; at most
//     processor.max_in_flight (4) batches are handed on and not yet
//     retired, so a slow sink slows the evaluation only when that many
//     wait.
//
// and, every processor.snapshot_interval (1 s) or processor.snapshot_records
// (50,000) records, whichever comes first, always after a tick that
// produced events, on a soft stop and on a revoke (the generation ended),
// a snapshot:
//
//  4. Encode, at once, the state of every station changed since the last
//     snapshot: it covers every evaluated record (the offset after the
//     last one).
//  5. Once the alert lane has produced every event of the records before
//     that offset and no batch before it has its points in flight (each
//     stored, or joined to the landing gap below; the evaluation goes on
//     meanwhile and never waits for it, except on a stop, a revoke or a
//     tick), write those states to the compacted `processor.state`
//     changelog, on the same partition number as the readings; each
//     message carries the header "covers" (CoversHeader) with the offset.
//  6. Commit: that offset, or the first record whose points are not yet
//     durable (in InfluxDB, the file sink or the InfluxDB spool).
//
// The invariant: a committed offset never runs ahead of the snapshot that
// covers it (commit <= covers, by construction: the commit is taken after
// the changelog write and never above it), and a snapshot never holds an
// alert that is not produced (step 5 waits for the alert lane). So a crash replays from the commit over the
// last snapshot: records after the snapshot are evaluated again (the same
// events with the same EventIDs, points rewritten idempotently, as before
// the snapshots were coalesced, only over up to one interval of records);
// records between the commit and the snapshot (a crash after step 5,
// before step 6) are duplicates to the restored state: no event again,
// points rewritten with quality 2. A batch cut off mid-way (hard close)
// is never snapshotted.
//
// A point sink that refuses a batch (influxsink.ErrSpoolFull: the spool is
// at its bound or the disk at its floor) or fails does not stop the
// partition: the batch's records join the landing gap, [first, last]
// offsets processed but not stored, and the commit stays at the first of
// them. While the gap is open, later batches join it too (their points are
// not offered), and after every batch, and every 100 ms when idle, the
// worker tries to land it: it writes the gap's alert and notice lines, then
// re-reads up to 20,000 of its records from Kafka with a second reader on
// the same partition (the readings stay in `readings` for 7 days), rebuilds
// their points and offers them; each accepted chunk moves the commit
// forward. A refusal backs off (jittered, 200 ms to 5 s). The quality flags
// the rules gave a record are kept in memory for the re-read when they are
// not the common "all passed, not late". resilience_processor_landing_gap
// and Processor.LandingGap count the records waiting.
//
// Alert ids are deterministic (station + rule + start), event ids too. A
// crash anywhere replays from the last commit against the state of the
// last changelog write, which is never newer than the alerts already
// produced (step 2 before 5). So no alert is lost; a replay may produce an
// alert event again, with the same EventID, which consumers deduplicate
// (the alerts store drops a repeated event id).
// After a crash during a landing gap the replay starts at the gap: the
// rules see those records as duplicates and emit nothing, and their points
// are rewritten (idempotent by measurement, tags and timestamp; written
// then with quality 2, not evaluated, since the replay does not evaluate
// duplicates). What a crash during a gap loses is the `alert` and `notice`
// points of the gap's batches (the alert events themselves are in
// `alerts`).
//
// A point write that hangs delays the next snapshot and commit, and the
// evaluation once max_in_flight batches wait (their alerts are already
// out); influxsink bounds it by its attempts and timeout and then spools.
//
// State and rebalances: the processor uses a kafka-go ConsumerGroup
// directly, so it knows which partitions it owns. On every assignment it
// restores the state of those partitions from the changelog before it
// fetches a reading, and it runs the time-driven rules (offline) only for
// the stations of its partitions. N processors in one group split the
// stations. A worker that loses its partition with a gap open leaves it to
// the next owner, which replays from the commit.
//
// Readiness follows the real connections: Processor.Ready is nil only
// while the processor is a member of a live generation and every
// partition it owns has its state restored and its worker running. It
// turns into an error wrapping ErrNotReady as soon as the generation ends
// (a rebalance; a lost coordinator, noticed by the heartbeat within
// SessionTimeout/5 plus the connection timeout; a worker leaving on an
// error), and the error says why: joining the consumer group (with the
// last join error), rebalancing, generation N ended (and the worker's
// error), restoring, stopping. A member that owns no partition is ready
// when the group has at least as many members as partitions: a standby,
// ready to take a partition over when a member leaves; with fewer members
// than partitions it is not ("no partitions assigned (M members for P
// partitions)"). Before Run and after it returned, Ready is ErrNotRunning.
//
// Stopping has two phases. The soft stop (cancelling Run's context): Ready
// turns not ready at once, no further batch is fetched, and each worker
// finishes the batch in hand (its alerts and points) and takes its final
// snapshot and commit in the current generation; a worker with nothing in
// hand waits for its siblings, since kafka-go ends the generation when the
// first returns and their commits would then be refused. A revoke (the
// generation ends: a rebalance) is the same for the worker, except that
// each remaining step is tried once, not retried: the rebalance waits for
// it. The hard close: StopTimeout after the soft stop began, or
// min(StopTimeout, SessionTimeout/2) after the generation ended, the
// workers' context is cancelled; a batch cut off there is not committed
// and is replayed by the partition's next owner (from the last commit,
// against the last saved state; see above). Then Run leaves the group and
// returns nil. A worker whose step fails for another reason leaves the
// generation the same way (hard), so what it has not committed is
// replayed after the rebalance.
package processor
