package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// orderLog records events from several goroutines.
type orderLog struct {
	mu     sync.Mutex
	events []string
}

func (o *orderLog) add(e string) { o.mu.Lock(); o.events = append(o.events, e); o.mu.Unlock() }
func (o *orderLog) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.events, ",")
}

// TestLifecycleStopsPartsBeforeClosingSinks: on a return while wiring (a
// direct shutdown), the running parts are stopped and waited for first,
// so a part finishing its batch still writes through an open writer; then
// the sinks and the writer close (newest first); then the brokers stop.
// Before the fix RunStack's deferred writer.Close and sink.Close ran before
// the deferred stop of the parts (defers run last-in first-out).
func TestLifecycleStopsPartsBeforeClosingSinks(t *testing.T) {
	var log orderLog
	var mu sync.Mutex
	writerClosed := false
	lc := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	lc.runBroker(func(ctx context.Context) error {
		<-ctx.Done()
		log.add("broker stopped")
		return nil
	})
	lc.closeAfterParts(func() { mu.Lock(); writerClosed = true; mu.Unlock(); log.add("writer closed") })
	lc.closeAfterParts(func() { log.add("sink closed") })
	started := make(chan struct{})
	lc.run(stageProcess, "processor", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		// A soft stop: the batch in hand is finished through the writer.
		mu.Lock()
		closed := writerClosed
		mu.Unlock()
		if closed {
			log.add("part wrote to a closed writer")
		}
		log.add("part stopped")
		return nil
	})
	<-started
	if err := lc.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got, want := log.String(), "part stopped,sink closed,writer closed,broker stopped"; got != want {
		t.Fatalf("shutdown order %q, want %q", got, want)
	}
	// A second shutdown does nothing.
	if err := lc.shutdown(); err != nil || strings.Count(log.String(), "broker stopped") != 1 {
		t.Fatalf("second shutdown: %v, events %q", err, log.String())
	}
}

// TestLifecycleStopsStagesInOrder: when the caller's context ends, the
// stages stop one after the other, each waited for before the next is
// cancelled: the collector has drained before the processor is told to
// stop, the processor has finished before the alerts service, and so on
// to the sinks, then the closers, then the brokers. Before the fix every
// part was cancelled at once (one errgroup context).
func TestLifecycleStopsStagesInOrder(t *testing.T) {
	var log orderLog
	ctx, cancel := context.WithCancel(context.Background())
	lc := newLifecycle(ctx, slog.New(slog.DiscardHandler))
	lc.runBroker(func(ctx context.Context) error { <-ctx.Done(); log.add("broker"); return nil })
	lc.closeAfterParts(func() { log.add("closers") })
	var started sync.WaitGroup
	// Registered in reverse so that registration order cannot explain the
	// stop order; each part records when it sees its stop and when it is
	// done, and the first stages take a moment to drain.
	for s := nStages - 1; s >= 0; s-- {
		name := stageNames[s]
		started.Add(1)
		lc.run(s, name, func(ctx context.Context) error {
			started.Done()
			<-ctx.Done()
			log.add(name + " stop")
			for i := 0; i < 3; i++ {
				runtime.Gosched() // a drain with yields: others could run
			}
			log.add(name + " done")
			return nil
		})
	}
	started.Wait()
	cancel()
	if err := lc.wait(); err != nil {
		t.Fatalf("wait: %v", err)
	}
	want := "ingest stop,ingest done,processor stop,processor done,alerts stop,alerts done,http stop,http done," +
		"sinks stop,sinks done,closers,broker"
	if got := log.String(); got != want {
		t.Fatalf("stop order\n got %s\nwant %s", got, want)
	}
}

// TestLifecycleReturnsFirstPartError: a failing part stops the others and
// its error (naming the part) is returned rather than a broker's; a part
// that ends without an error before a stop stops the stack too.
func TestLifecycleReturnsFirstPartError(t *testing.T) {
	lc := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	brokerErr := errors.New("broker")
	lc.runBroker(func(ctx context.Context) error { <-ctx.Done(); return brokerErr })
	partErr := errors.New("part failed")
	lc.run(stageAlerts, "alerts", func(ctx context.Context) error { <-ctx.Done(); return nil })
	lc.run(stageProcess, "processor", func(context.Context) error { return partErr })
	if err := lc.wait(); !errors.Is(err, partErr) || !strings.HasPrefix(err.Error(), "processor: ") {
		t.Fatalf("wait = %v, want %v naming the processor", err, partErr)
	}
	lc2 := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	lc2.runBroker(func(ctx context.Context) error { <-ctx.Done(); return brokerErr })
	if err := lc2.shutdown(); !errors.Is(err, brokerErr) {
		t.Fatalf("shutdown with only a broker error = %v, want %v", err, brokerErr)
	}
	lc3 := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	lc3.run(stageHTTP, "http", func(context.Context) error { return nil })
	if err := lc3.wait(); !errors.Is(err, errPartEnded) {
		t.Fatalf("wait after a part ended by itself = %v, want %v", err, errPartEnded)
	}
}

// TestPointsDegraded: the /readyz reason names the readings whose points
// wait; nothing waiting is no degradation.
func TestPointsDegraded(t *testing.T) {
	cases := []struct {
		gap  int64
		want string
	}{
		{0, ""},
		{1200, "point sink failing, 1200 readings not yet stored"},
	}
	for _, tc := range cases {
		if got := pointsDegraded(tc.gap, nil); got != tc.want {
			t.Errorf("pointsDegraded(%d, nil) = %q, want %q", tc.gap, got, tc.want)
		}
	}
}
