package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/lease"
	"github.com/resilience-project/resilience/internal/kafkax"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  lease.Config
		want error
	}{
		{"ok", lease.Config{Brokers: []string{"x:9092"}, Topic: "t", Group: "g"}, nil},
		{"no brokers", lease.Config{Topic: "t", Group: "g"}, lease.ErrConfig},
		{"no topic", lease.Config{Brokers: []string{"x:9092"}, Group: "g"}, lease.ErrConfig},
		{"no group", lease.Config{Brokers: []string{"x:9092"}, Topic: "t"}, lease.ErrConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := lease.New(c.cfg); !errors.Is(err, c.want) {
				t.Errorf("New = %v, want %v", err, c.want)
			}
		})
	}
}

// holders counts the terms running at once, and the most ever seen.
type holders struct {
	now, most atomic.Int32
	terms     atomic.Int32 // terms started
}

func (h *holders) term(ctx context.Context) error {
	h.terms.Add(1)
	n := h.now.Add(1)
	for {
		m := h.most.Load()
		if n <= m || h.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-ctx.Done()
	h.now.Add(-1)
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1m waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOneHolderAndTakeover: two replicas' leases on one group (kfake):
// exactly one holds, and its term is the only one running; when the
// holder stops, the other takes over; no two terms ever overlap, and
// nothing is left running after both stopped.
func TestOneHolderAndTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	if _, err := kafkax.EnsureTopics(ctx, brokers, nil, kafkax.TopicSpec{Name: "lease.nflog", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()
	h := &holders{}
	type replica struct {
		l    *lease.Lease
		stop context.CancelFunc
		done chan error
	}
	start := func() *replica {
		l, err := lease.New(lease.Config{Brokers: brokers, Topic: "lease.nflog", Group: "lease.dispatch",
			HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		r := &replica{l: l, stop: stop, done: make(chan error, 1)}
		go func() { r.done <- l.Run(rctx, h.term) }()
		return r
	}
	a, b := start(), start()
	var once sync.Once
	stopBoth := func() {
		once.Do(func() {
			a.stop()
			b.stop()
		})
	}
	defer stopBoth()
	waitFor(t, "one lease held", func() bool { return a.l.Held() || b.l.Held() })
	holder, other := a, b
	if b.l.Held() {
		holder, other = b, a
	}
	// Both have joined once the group is stable with one holder; the other
	// must not hold at the same time.
	waitFor(t, "a running term", func() bool { return h.now.Load() == 1 })
	if other.l.Held() {
		t.Fatal("both leases held")
	}
	holder.stop()
	select {
	case err := <-holder.done:
		if err != nil {
			t.Errorf("stopped holder's Run = %v, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("stopped holder's Run did not return")
	}
	if holder.l.Held() {
		t.Error("a stopped lease still reports Held")
	}
	waitFor(t, "the other replica taking over", other.l.Held)
	waitFor(t, "the other replica's term running", func() bool { return h.now.Load() == 1 && h.terms.Load() >= 2 })
	other.stop()
	if err := <-other.done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if m := h.most.Load(); m != 1 {
		t.Errorf("at most %d terms ran at once, want 1", m)
	}
	if n := h.now.Load(); n != 0 {
		t.Errorf("%d terms still running after both stopped", n)
	}
	c.Close()
	goleak.VerifyNone(t, before)
}
