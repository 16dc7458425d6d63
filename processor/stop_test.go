package processor

import (
	"context"
	"testing"
	"time"
)

// TestSoftStopEndsWithTheGeneration: a soft stop while a worker's batch
// is stuck (the state changelog refuses) and StopTimeout is long; then a
// second processor joins the group, so the first one's generation ends.
// The stuck worker is cancelled then (its batch could not be committed in
// that generation anyway), Run returns, and the second processor replays
// the uncommitted batch and commits the end. Before the fix the worker
// kept retrying its state write for the partition the group had given to
// the other processor, until StopTimeout (an hour here): Run did not
// return.
func TestSoftStopEndsWithTheGeneration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newPipelineEnv(t, ctx, "softstop.")
	sink := &stepSink{refusingSink: refusingSink{points: map[string]int{}}, log: e.log}
	w1 := &stepWriter{inner: e.w, topics: e.topics, log: e.log, failState: true}
	stop1 := e.start("softstop-test", w1, sink, time.Hour)
	e.produce("ST-A", 1, 5, func(uint64) float64 { return 5.8 })
	e.wait("the state write to fail", func() bool { return w1.stateFailures() > 0 })

	stopped := make(chan error, 1)
	go func() { stopped <- stop1() }()
	stop2 := e.start("softstop-test", &stepWriter{inner: e.w, topics: e.topics, log: e.log}, sink, 10*time.Second)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run 1: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run 1 did not return after its generation ended during the soft stop")
	}
	end := topicEnd(t, ctx, e.cl, e.topics.Readings)
	e.wait("the second processor to commit the end", func() bool {
		return committed(t, ctx, e.cl, "softstop-test", e.topics.Readings) == end
	})
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
}
