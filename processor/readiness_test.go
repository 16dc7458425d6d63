package processor

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// TestMembershipReady: Ready's answer for each step of a generation's
// life, and the generation guard on late reports.
func TestMembershipReady(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		steps func(m *membership)
		is    error    // errors.Is(Ready, is); nil: Ready is nil
		says  []string // substrings of the error
	}{
		{"before Run", func(m *membership) {}, ErrNotRunning, nil},
		{"metadata", func(m *membership) { m.start() }, ErrNotReady, []string{"partition counts"}},
		{"joining", func(m *membership) { m.start(); m.setPartitions(2) }, ErrNotReady, []string{"joining the consumer group"}},
		{"join failed", func(m *membership) { m.start(); m.setPartitions(2); m.joinFailed(boom) }, ErrNotReady, []string{"joining the consumer group: boom"}},
		{"restoring", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0, 1}, 0, nil)
			m.workerRunning(3)
		}, ErrNotReady, []string{"generation 3", "restoring", "[0 1]", "1 of 2"}},
		{"running", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0, 1}, 0, nil)
			m.workerRunning(3)
			m.workerRunning(3)
		}, nil, nil},
		{"rebalancing", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0}, 0, nil)
			m.workerRunning(3)
			m.ended(3)
		}, ErrNotReady, []string{"rebalancing", "generation 3 ended"}},
		{"worker left", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0, 1}, 0, nil)
			m.workerRunning(3)
			m.workerRunning(3)
			m.workerLeft(3, 1, boom)
		}, ErrNotReady, []string{"generation 3 ended: partition 1: boom", "rebalancing"}},
		{"ended, rejoin failing", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0}, 0, nil)
			m.workerRunning(3)
			m.ended(3)
			m.joinFailed(errors.New("connection refused"))
		}, ErrNotReady, []string{"generation 3 ended", "joining the consumer group: connection refused"}},
		{"rejoined", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0}, 0, nil)
			m.workerRunning(3)
			m.workerLeft(3, 0, boom)
			m.joinFailed(boom)
			m.joined(4, []int{0}, 0, nil)
			m.workerRunning(4)
		}, nil, nil},
		{"late report of an ended generation", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(4, []int{0}, 0, nil)
			m.workerRunning(4)
			m.workerLeft(3, 0, boom)
			m.ended(3)
		}, nil, nil},
		{"standby", func(m *membership) { m.start(); m.setPartitions(2); m.joined(5, nil, 3, nil) }, nil, nil},
		{"standby, as many members as partitions", func(m *membership) { m.start(); m.setPartitions(2); m.joined(5, nil, 2, nil) }, nil, nil},
		{"no partitions, too few members", func(m *membership) { m.start(); m.setPartitions(6); m.joined(5, nil, 2, nil) },
			ErrNotReady, []string{"no partitions assigned (2 members for 6 partitions)"}},
		{"no partitions, members unknown", func(m *membership) { m.start(); m.setPartitions(2); m.joined(5, nil, 0, boom) },
			ErrNotReady, []string{"no partitions assigned", "members unknown: boom"}},
		{"stopping", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0}, 0, nil)
			m.workerRunning(3)
			m.stopRequested()
		}, ErrNotReady, []string{"stopping"}},
		{"after Run", func(m *membership) {
			m.start()
			m.setPartitions(2)
			m.joined(3, []int{0}, 0, nil)
			m.workerRunning(3)
			m.stop()
		}, ErrNotRunning, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m membership
			tc.steps(&m)
			err := m.ready()
			if tc.is == nil {
				if err != nil {
					t.Fatalf("ready() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("ready() = %v, want an error wrapping %v", err, tc.is)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("ready() = %q, want it to say %q", err, s)
				}
			}
		})
	}
}

// readyEnv runs processors against a kfake cluster with a data directory
// on a fixed port, which the test can stop and start again.
type readyEnv struct {
	t      *testing.T
	ctx    context.Context
	topics schemas.KafkaTopics
	dir    string
	port   int
	c      *kfake.Cluster
}

func newReadyEnv(t *testing.T, ctx context.Context, prefix string) *readyEnv {
	e := &readyEnv{t: t, ctx: ctx, topics: schemas.Topics(prefix), dir: t.TempDir()}
	e.startCluster()
	_, port, err := net.SplitHostPort(e.c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.c.Close() })
	return e
}

// startCluster starts the cluster (again): on e.port once known, on the
// data directory, with the processor's topics (one partition).
func (e *readyEnv) startCluster() {
	e.t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(e.port), kfake.ClusterID("ready-test"),
		kfake.DataDir(e.dir), kfake.SeedTopics(1, e.topics.Readings, e.topics.Alerts, e.topics.State))
	if err != nil {
		e.t.Fatalf("start kfake on port %d: %v", e.port, err)
	}
	e.c = c
}

func (e *readyEnv) brokers() []string { return []string{"127.0.0.1:" + strconv.Itoa(e.port)} }

// start runs a processor of group; stop cancels it and returns Run's error.
func (e *readyEnv) start(group string, w EventWriter) (p *Processor, stop func() error) {
	e.t.Helper()
	reg := testRegistry(e.t)
	engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Group, cfg.SessionTimeout, cfg.BatchWait, cfg.BatchSize = group, 6*time.Second, 5*time.Millisecond, 40
	p, err = New(cfg, Deps{Brokers: e.brokers(), Registry: reg, Engine: engine, Writer: w, Topics: e.topics,
		Points: &refusingSink{points: map[string]int{}}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	return p, func() error { cancel(); return <-done }
}

// wait polls cond until it holds or the test's deadline passes.
func (e *readyEnv) wait(what string, cond func() bool, last func() error) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s; last Ready: %v", what, last())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestReadyFollowsTheCluster: Ready is nil once the processor owns its
// partition with the state restored; it turns into an error when the
// Kafka cluster goes away (the heartbeat fails, the generation ends) and
// stays one while the cluster is down; it is nil again once the cluster
// is back on the same port and data directory, and the processor
// processes again. Before the fix readiness was a channel closed once:
// /readyz stayed 200 with the cluster gone.
func TestReadyFollowsTheCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := newReadyEnv(t, ctx, "ready.")
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: e.brokers()})
	defer w.Close()
	p, stop := e.start("ready-test", w)
	e.wait("ready after the assignment", func() bool { return p.Ready() == nil }, p.Ready)

	down := time.Now()
	e.c.Close()
	e.wait("not ready with the cluster gone", func() bool { return p.Ready() != nil }, p.Ready)
	t.Logf("not ready %s after the cluster closed: %v", time.Since(down).Round(time.Millisecond), p.Ready())
	if err := p.Ready(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready() = %v with the cluster gone, want an error wrapping ErrNotReady", err)
	}
	// It stays not ready while the cluster is down: wait until a rejoin
	// has failed (the reason names the join) and check again.
	e.wait("a failed rejoin", func() bool {
		err := p.Ready()
		return err != nil && strings.Contains(err.Error(), "joining the consumer group")
	}, p.Ready)

	e.startCluster()
	e.wait("ready again after the cluster restarted", func() bool { return p.Ready() == nil }, p.Ready)

	// The worker runs: a new reading is processed and committed.
	cl, closeCl := kafkax.NewClient(e.brokers(), nil)
	defer closeCl()
	pe := &pipelineEnv{t: t, ctx: ctx, topics: e.topics, w: w, base: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
	pe.produce("ST-A", 1, 1, calmLevel)
	end := topicEnd(t, ctx, cl, e.topics.Readings)
	e.wait("the commit after the restart", func() bool { return committed(t, ctx, cl, "ready-test", e.topics.Readings) == end }, p.Ready)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := p.Ready(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Ready() after Run returned = %v, want ErrNotRunning", err)
	}
}

// TestReadyStandby: in a group with more processors than partitions, the
// one that owns no partition is a standby and ready, as is the owner.
func TestReadyStandby(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := newReadyEnv(t, ctx, "standby.")
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: e.brokers()})
	defer w.Close()
	p1, stop1 := e.start("standby-test", w)
	e.wait("the first processor ready", func() bool { return p1.Ready() == nil }, p1.Ready)
	p2, stop2 := e.start("standby-test", w)
	// Both are members of one generation: one owns the partition, the
	// other none, and both are ready.
	e.wait("both ready in one generation, one of them a standby", func() bool {
		s1, s2 := p1.status.snapshot(), p2.status.snapshot()
		return s1.gen == s2.gen && len(s1.assigned)+len(s2.assigned) == 1 && p1.Ready() == nil && p2.Ready() == nil
	}, func() error { return errors.Join(p1.Ready(), p2.Ready()) })
	standby := p1.status.snapshot()
	if len(standby.assigned) != 0 {
		standby = p2.status.snapshot()
	}
	if standby.members != 2 || standby.partitions != 1 {
		t.Errorf("standby saw %d members for %d partitions, want 2 for 1", standby.members, standby.partitions)
	}
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
	if err := stop1(); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
}

// snapshot copies the membership state.
func (m *membership) snapshot() memberState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberState
}
