package main

import (
	"context"
	"errors"
	"log/slog"
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

// TestLifecycleStopsPartsBeforeClosingSinks: on a return while wiring (the
// deferred shutdown), the running parts are stopped and waited for first,
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
	lc.parts.Go(func() error {
		close(started)
		<-lc.partsCtx.Done()
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
	if err := lc.shutdown(true); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got, want := log.String(), "part stopped,sink closed,writer closed,broker stopped"; got != want {
		t.Fatalf("shutdown order %q, want %q", got, want)
	}
	// A second shutdown (the deferred one after the normal path) does nothing.
	if err := lc.shutdown(true); err != nil || strings.Count(log.String(), "broker stopped") != 1 {
		t.Fatalf("second shutdown: %v, events %q", err, log.String())
	}
}

// TestLifecycleReturnsFirstPartError: without cancel (the normal path),
// shutdown waits until a part fails (which stops the others) and returns
// that error rather than a broker's.
func TestLifecycleReturnsFirstPartError(t *testing.T) {
	lc := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	brokerErr := errors.New("broker")
	lc.runBroker(func(ctx context.Context) error { <-ctx.Done(); return brokerErr })
	partErr := errors.New("part failed")
	lc.parts.Go(func() error { <-lc.partsCtx.Done(); return nil })
	lc.parts.Go(func() error { return partErr })
	if err := lc.shutdown(false); !errors.Is(err, partErr) {
		t.Fatalf("shutdown = %v, want %v", err, partErr)
	}
	lc2 := newLifecycle(context.Background(), slog.New(slog.DiscardHandler))
	lc2.runBroker(func(ctx context.Context) error { <-ctx.Done(); return brokerErr })
	if err := lc2.shutdown(true); !errors.Is(err, brokerErr) {
		t.Fatalf("shutdown with only a broker error = %v, want %v", err, brokerErr)
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
