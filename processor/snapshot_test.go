package processor

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// stateMessages reads every message of partition 0 of the state
// changelog.
func (e *pipelineEnv) stateMessages() []kafka.Message {
	e.t.Helper()
	end := topicEnd(e.t, e.ctx, e.cl, e.topics.State)
	if end == 0 {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: e.topics.State, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for int64(len(out)) < end {
		m, err := r.FetchMessage(e.ctx)
		if err != nil {
			e.t.Fatalf("read state changelog: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func covers(m kafka.Message) int64 {
	for _, h := range m.Headers {
		if h.Key == CoversHeader {
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// TestSnapshotsCoalesced: with snapshot_interval and snapshot_records
// larger than the run, five batches of readings from two stations are
// evaluated and their points stored without a single state write or
// commit; the soft stop then takes one snapshot (one changelog message
// per station, covering the end) and commits the end. Before the fix
// every batch wrote the whole state of every station it touched and
// committed (5+ state writes, one per batch).
func TestSnapshotsCoalesced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "coalesce.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	_, stop := e.startWith("coalesce-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, func(c *Config) {
		c.SnapshotInterval, c.SnapshotRecords = time.Minute, 1000000
	})
	e.produce("ST-A", 1, 100, calmLevel)
	e.produce("ST-B", 1, 100, calmLevel)
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("every reading's point", func() bool { return int64(len(sink.snapshot("reading"))) == end })
	if n := topicEnd(t, ctx, e.cl, e.topics.State); n != 0 {
		t.Errorf("%d state changelog messages before the snapshot is due, want 0 (a snapshot per batch)", n)
	}
	if got := committed(t, ctx, e.cl, "coalesce-test", e.topics.Readings); got >= 0 {
		t.Errorf("committed %d before the snapshot is due, want nothing committed", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := committed(t, ctx, e.cl, "coalesce-test", e.topics.Readings); got != end {
		t.Errorf("committed %d after the soft stop, want the end %d", got, end)
	}
	msgs := e.stateMessages()
	var keys []string
	for _, m := range msgs {
		keys = append(keys, string(m.Key))
		if c := covers(m); c != end {
			t.Errorf("state of %s covers %d, want %d", m.Key, c, end)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"ST-A", "ST-B"}) {
		t.Errorf("state changelog keys %v, want one snapshot of ST-A and ST-B", keys)
	}
	checkCovered(t, e.log.snapshot())
}

// TestRevokeTakesSnapshot: a processor has evaluated and stored a batch
// but, its snapshot not due (snapshot_interval 1 m), committed nothing; a
// second processor joins the group, so the generation ends. The revoked
// worker takes its snapshot and commits before it leaves: the commit
// reaches the end well before the interval, and whoever owns the
// partition next replays nothing (no point is written twice). Without
// the final snapshot on a revoke, the next owner replayed the batch.
func TestRevokeTakesSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "revoke.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	tune := func(c *Config) { c.SnapshotInterval, c.SnapshotRecords = time.Minute, 1000000 }
	_, stop1 := e.startWith("revoke-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, tune)
	e.produce("ST-A", 1, 50, calmLevel)
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("every reading's point", func() bool { return int64(len(sink.snapshot("reading"))) == end })
	if got := committed(t, ctx, e.cl, "revoke-test", e.topics.Readings); got >= 0 {
		t.Fatalf("committed %d before the snapshot is due, want nothing committed", got)
	}
	start := time.Now()
	p2, stop2 := e.startWith("revoke-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, tune)
	e.wait("the revoked worker's commit", func() bool { return committed(t, ctx, e.cl, "revoke-test", e.topics.Readings) == end })
	if waited := time.Since(start); waited >= time.Minute {
		t.Errorf("the commit came after %v: by the interval, not by the revoke", waited)
	}
	e.wait("the second processor to be ready", func() bool { return p2.Ready() == nil })
	e.produce("ST-A", 51, 51, calmLevel)
	e.wait("the new reading's point", func() bool { return int64(len(sink.snapshot("reading"))) == end+1 })
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
	if err := stop1(); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
	for k, n := range sink.snapshot("reading") {
		if n != 1 {
			t.Errorf("point %s written %d times: the revoked batch was replayed", k, n)
		}
	}
	if got := committed(t, ctx, e.cl, "revoke-test", e.topics.Readings); got != end+1 {
		t.Errorf("committed %d after both stopped, want %d", got, end+1)
	}
	checkCovered(t, e.log.snapshot())
}

// TestCrashAfterSnapshotBeforeCommit: the snapshot of a breach batch is
// written but the commit is refused, and the processor is cut off (hard
// stop): the commit stays behind the snapshot. A new processor replays
// from the commit over that newer snapshot: the replayed records it covers
// are duplicates to it, so no alert event of the first run is produced
// again (let alone one with another EventID), every reading's point is
// stored, and the commit reaches the end. The reverse, a commit ahead of
// its snapshot, cannot happen: every commit in the log is at or below the
// snapshot written before it (checkCovered).
func TestCrashAfterSnapshotBeforeCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "snapcrash.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	tune := func(c *Config) { c.SnapshotInterval, c.StopTimeout = 50*time.Millisecond, 300*time.Millisecond }
	_, stop1 := e.startWith("snapcrash-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, tune)
	e.produce("ST-A", 1, 30, calmLevel)
	e.wait("the first commit", func() bool { return committed(t, ctx, e.cl, "snapcrash-test", e.topics.Readings) == 30 })
	e.failCommit.Store(true)
	e.produce("ST-A", 31, 40, func(uint64) float64 { return 5.8 })
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	// A snapshot may cover only part of the records (those evaluated when
	// it was due): any snapshot past the commit, then a refused commit.
	e.wait("a snapshot past the commit, then a refused commit", func() bool {
		steps := e.log.snapshot()
		i := slices.IndexFunc(steps, func(s string) bool {
			v, ok := strings.CutPrefix(s, "covers ")
			n, _ := strconv.ParseInt(v, 10, 64)
			return ok && n > 30
		})
		return i >= 0 && slices.Contains(steps[i:], "commit refused")
	})
	if err := stop1(); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
	if got := committed(t, ctx, e.cl, "snapcrash-test", e.topics.Readings); got != 30 {
		t.Fatalf("committed %d after the crash, want 30", got)
	}
	before := e.alertEvents()
	if len(before) == 0 {
		t.Fatal("no alert event before the crash")
	}
	e.failCommit.Store(false)

	_, stop2 := e.startWith("snapcrash-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, tune)
	e.wait("the replay to commit the end", func() bool { return committed(t, ctx, e.cl, "snapcrash-test", e.topics.Readings) == end })
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
	after := e.alertEvents()
	seen := map[string]int{}
	for _, ev := range after {
		seen[ev.EventID]++
	}
	for _, ev := range before {
		if n := seen[ev.EventID]; n != 1 {
			t.Errorf("event %s (%s %s) in alerts %d times, want once: the replay over the newer snapshot produced it again, or lost it", ev.EventID, ev.Kind, ev.Rule, n)
		}
	}
	fired := map[string]map[string]bool{} // alert id -> fired EventIDs
	for _, ev := range after {
		if ev.Kind == schemas.AlertFired {
			if fired[ev.ID] == nil {
				fired[ev.ID] = map[string]bool{}
			}
			fired[ev.ID][ev.EventID] = true
		}
	}
	if len(fired) == 0 {
		t.Error("no fired event")
	}
	for id, ids := range fired {
		if len(ids) != 1 {
			t.Errorf("alert %s fired with %d EventIDs, want 1", id, len(ids))
		}
	}
	if n := len(sink.snapshot("reading")); int64(n) != end {
		t.Errorf("%d distinct reading points, want %d", n, end)
	}
	checkCovered(t, e.log.snapshot())
}
