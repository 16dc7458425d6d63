package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/dispatch"
	"github.com/resilience-project/resilience/alerts/nflog"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const immediate = `
route:
  receivers: [duty]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
`

// fakeChannel records what it was sent; send, if set, decides the outcome.
type fakeChannel struct {
	name string
	send func(ctx context.Context, n notify.Notification) error
	mu   sync.Mutex
	got  []notify.Notification
	ch   chan notify.Notification
}

func newFake(name string, send func(context.Context, notify.Notification) error) *fakeChannel {
	return &fakeChannel{name: name, send: send, ch: make(chan notify.Notification, 100)}
}

func (f *fakeChannel) Name() string { return f.name }

func (f *fakeChannel) Send(ctx context.Context, n notify.Notification) error {
	if f.send != nil {
		if err := f.send(ctx, n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.got = append(f.got, n)
	f.mu.Unlock()
	f.ch <- n
	return nil
}

func (f *fakeChannel) next(t *testing.T) notify.Notification {
	t.Helper()
	select {
	case n := <-f.ch:
		return n
	case <-time.After(30 * time.Second):
		t.Fatalf("channel %s: no notification within 30s", f.name)
		return notify.Notification{}
	}
}

func (f *fakeChannel) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

type running struct {
	d      *dispatch.Dispatcher
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg dispatch.Config) *running {
	t.Helper()
	d, err := dispatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, d)
}

// run starts a term of d (Run) until the test ends or stop.
func run(t *testing.T, d *dispatch.Dispatcher) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// cutTerm runs a term of d, submits e and ends the term while the intent
// of its decision is being written (l cuts it), then lets l write again.
func cutTerm(t *testing.T, l *cutLog, d *dispatch.Dispatcher, e schemas.AlertEvent) {
	t.Helper()
	ctx1, cancel1 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx1) }()
	d.Submit(e)
	select {
	case <-l.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no intent written within 30s")
	}
	cancel1() // the lease term ends mid-write
	if err := <-done; err != nil {
		t.Fatalf("first term: %v", err)
	}
}

// uncut lets l write intents again.
func (l *cutLog) uncut() {
	l.mu.Lock()
	l.cut = false
	l.mu.Unlock()
}

func (r *running) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

func openLog(t *testing.T, path string) *nflog.File {
	t.Helper()
	l, err := nflog.OpenFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestSlowChannelDoesNotBlockOthers(t *testing.T) {
	tr := tree(t, immediate)
	release := make(chan struct{})
	slow := newFake("slow", func(ctx context.Context, _ notify.Notification) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	fast := newFake("fast", nil)
	l := openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl"))
	r := start(t, dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l, Tick: 10 * time.Millisecond,
		Channels: map[string][]notify.Channel{"duty": {slow, fast}}})
	for i := range 3 {
		r.d.Submit(event(fmt.Sprintf("A%d", i), fmt.Sprintf("S-%d", i), "level:water_level", schemas.AlertFired, 2, 0))
	}
	for range 3 {
		fast.next(t) // all three reach the fast channel while the slow one holds its first
	}
	if slow.count() != 0 {
		t.Fatalf("slow channel delivered %d before release", slow.count())
	}
	// The fast channel's are recorded sent; the slow one's stay pending.
	waitFor(t, func() bool { return len(l.Pending()) == 3 }, "3 pending entries (the slow channel's)")
	for _, e := range l.Pending() {
		if e.Target != "duty/slow" {
			t.Errorf("pending entry for %s, want only duty/slow", e.Target)
		}
	}
	close(release)
	for range 3 {
		slow.next(t)
	}
}

func TestCrashResendsPendingWithTheSameID(t *testing.T) {
	tr := tree(t, immediate)
	path := filepath.Join(t.TempDir(), "nflog.jsonl")
	attempted := make(chan string, 10)
	down := newFake("webhook[0]", func(ctx context.Context, n notify.Notification) error {
		attempted <- n.ID
		return errors.New("connection refused")
	})
	l := openLog(t, path)
	r := start(t, dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l, Tick: 10 * time.Millisecond,
		RetryMin: time.Hour, RetryMax: time.Hour, Channels: map[string][]notify.Channel{"duty": {down}}})
	a := event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0)
	r.d.Submit(a)
	var id string
	select {
	case id = <-attempted:
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt within 30s")
	}
	r.stop() // the crash: intent written, never delivered
	l.Close()

	l2 := openLog(t, path)
	up := newFake("webhook[0]", nil)
	r2 := start(t, dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l2, Tick: 10 * time.Millisecond,
		Channels: map[string][]notify.Channel{"duty": {up}}})
	if n := up.next(t); n.ID != id || len(n.Alerts) != 1 || n.Alerts[0].EventID != a.EventID {
		t.Fatalf("resent %+v, want id %s with event %s", n, id, a.EventID)
	}
	// The service replays the alerts topic after its restart: the event
	// comes again, followed by a new one. The new one arrives; the replayed
	// one must not (the worker is FIFO, so it would have come first).
	r2.d.Submit(a)
	b := event("B", "TB-NONGSON", "level:water_level", schemas.AlertFired, 1, 0)
	r2.d.Submit(b)
	if n := up.next(t); n.Alerts[0].ID != "B" {
		t.Fatalf("after the replay got %s, want only B", n.Alerts[0].ID)
	}
	waitFor(t, func() bool { e, ok := l2.Get(id); return ok && e.State == nflog.Sent }, "resent notification recorded as sent")
	if up.count() != 2 {
		t.Errorf("deliveries after restart = %d, want 2 (the resend and B)", up.count())
	}
}

func TestRetriesThenAbandonsPermanentFailures(t *testing.T) {
	tr := tree(t, immediate)
	var mu sync.Mutex
	fails := 2
	flaky := newFake("flaky", func(context.Context, notify.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return errors.New("503")
		}
		return nil
	})
	dead := newFake("dead", func(context.Context, notify.Notification) error {
		return fmt.Errorf("webhook: 410 Gone: %w", notify.ErrPermanent)
	})
	l := openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl"))
	reg := prometheus.NewRegistry()
	d, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l, Tick: 10 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, Channels: map[string][]notify.Channel{"duty": {flaky, dead}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	d.Submit(event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0))
	n := flaky.next(t)
	waitFor(t, func() bool {
		e1, _ := l.Get(n.ID)
		return e1.State == nflog.Sent && len(l.Pending()) == 0
	}, "flaky sent and dead abandoned")
	if abandoned := (counter(t, reg, "resilience_notifications_abandoned_total", "duty/dead")); abandoned != 1 {
		t.Errorf("abandoned = %v, want 1", abandoned)
	}
	if f := (counter(t, reg, "resilience_notification_attempts_failed_total", "duty/flaky")); f != 2 {
		t.Errorf("failed attempts of flaky = %v, want 2", f)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name, target string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "target" && lp.GetValue() == target {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{target=%q} not found", name, target)
	return 0
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flakyLog fails the first Intend for one target, as a Kafka outage would.
type flakyLog struct {
	*nflog.File
	mu     sync.Mutex
	target string
	failed bool
}

func (l *flakyLog) Intend(ctx context.Context, e nflog.Entry) error {
	l.mu.Lock()
	fail := e.Target == l.target && !l.failed
	l.failed = l.failed || fail
	l.mu.Unlock()
	if fail {
		return errors.New("kafka: not enough replicas")
	}
	return l.File.Intend(ctx, e)
}

func TestLogFailureRetriedWithoutDuplicates(t *testing.T) {
	tr := tree(t, immediate)
	a, b := newFake("a", nil), newFake("b", nil)
	l := &flakyLog{File: openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl")), target: "duty/b"}
	r := start(t, dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l, Tick: 10 * time.Millisecond,
		Channels: map[string][]notify.Channel{"duty": {a, b}}})
	r.d.Submit(event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0))
	if n := b.next(t); n.Alerts[0].ID != "A" {
		t.Fatalf("b got %s, want A after the retried intent", n.Alerts[0].ID)
	}
	r.d.Submit(event("B", "TB-NONGSON", "level:water_level", schemas.AlertFired, 2, 0))
	for _, want := range []string{"A", "B"} {
		if n := a.next(t); n.Alerts[0].ID != want {
			t.Fatalf("a got %s, want %s (a duplicate of A would come before B)", n.Alerts[0].ID, want)
		}
	}
	if n := b.next(t); n.Alerts[0].ID != "B" {
		t.Fatalf("b got %s, want B", n.Alerts[0].ID)
	}
}

func TestCheckNamesReceiversWithoutChannels(t *testing.T) {
	tr := tree(t, immediate)
	d, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tr }, Log: openLog(t, filepath.Join(t.TempDir(), "l")),
		Channels: map[string][]notify.Channel{"duty": {newFake("a", nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Check(tr)
	if !errors.Is(err, dispatch.ErrNoChannel) || !strings.Contains(err.Error(), "receiver district") ||
		!strings.Contains(err.Error(), "receiver city") || strings.Contains(err.Error(), "receiver duty") {
		t.Errorf("Check = %v, want ErrNoChannel for district and city only", err)
	}
	if _, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tr }, Log: openLog(t, filepath.Join(t.TempDir(), "l")),
		Channels: map[string][]notify.Channel{"duty": {newFake("a", nil), newFake("a", nil)}}}); err == nil {
		t.Error("New accepted two channels with one name")
	}
}

func TestUnconfirmedDeliveryEscalatesAtOnce(t *testing.T) {
	tr := tree(t, `
route:
  receivers: [duty]
  group_wait: 0s
  group_interval: 1s
  escalation: [{receivers: [district], after: 24h}]
`)
	siren := newFake("siren[0]", func(context.Context, notify.Notification) error {
		return fmt.Errorf("no ack within 30s: %w", notify.ErrUnconfirmed)
	})
	district := newFake("webhook[0]", nil)
	r := start(t, dispatch.Config{Routes: func() *route.Tree { return tr }, Log: openLog(t, filepath.Join(t.TempDir(), "l")),
		Tick: 10 * time.Millisecond, RetryMin: time.Hour, RetryMax: time.Hour,
		Channels: map[string][]notify.Channel{"duty": {siren}, "district": {district}}})
	r.d.Submit(event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 3, 0))
	if n := district.next(t); n.Tier != 1 || n.Alerts[0].ID != "A" {
		t.Fatalf("district got %+v, want tier 1 with A long before the 24h timeout", n)
	}
}

// cutLog holds every Intend until its ctx ends while cut is set, as a Kafka
// write cancelled by the end of a lease term before it reached the log.
type cutLog struct {
	*nflog.File
	mu      sync.Mutex
	cut     bool
	entered chan struct{}
}

func (l *cutLog) Intend(ctx context.Context, e nflog.Entry) error {
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if cut {
		select {
		case l.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return fmt.Errorf("nflog key %s: %w", e.ID, ctx.Err())
	}
	return l.File.Intend(ctx, e)
}

// TestDecisionCutByTermEndNotifiedNextTerm (issue 8): a term (Run) that
// ends while the intent of a decision is being written must not lose the
// decision: the grouper counts it as decided, so the next term of the same
// replica (it regained the dispatch lease) has to intend and send it. It
// was dropped with the term, and the notification was never sent.
func TestDecisionCutByTermEndNotifiedNextTerm(t *testing.T) {
	a := newFake("a", nil)
	l := &cutLog{File: openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl")), cut: true, entered: make(chan struct{}, 1)}
	d := dutyDispatcher(t, l, a)
	cutTerm(t, l, d, event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0))
	l.uncut()
	r := run(t, d)
	n := a.next(t)
	if len(n.Alerts) != 1 || n.Alerts[0].ID != "A" {
		t.Fatalf("second term sent %+v, want the notification of A", n.Alerts)
	}
	waitFor(t, func() bool { e, ok := l.Get(n.ID); return ok && e.State == nflog.Sent }, "A marked sent")
	r.stop()
	if c := a.count(); c != 1 {
		t.Fatalf("A sent %d times, want once", c)
	}
}

// TestCutDecisionNotifiedMeanwhileNotResent (issue 8): a decision cut by
// the end of a term is not sent by the next term when the log shows its
// alert was given to the receiver in between (by the other replica, which
// held the lease meanwhile, under its own notification key).
func TestCutDecisionNotifiedMeanwhileNotResent(t *testing.T) {
	a := newFake("a", nil)
	l := &cutLog{File: openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl")), cut: true, entered: make(chan struct{}, 1)}
	d := dutyDispatcher(t, l, a)
	ea := event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0)
	cutTerm(t, l, d, ea)
	// The other replica's term: it notified A under another key.
	ctx := context.Background()
	if err := l.File.Intend(ctx, nflog.Entry{ID: "other-replica", Target: "duty/a", Members: []string{nflog.Member(ea.ID, ea.EventID)},
		At: time.Now(), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := l.File.MarkSent(ctx, "other-replica", time.Now()); err != nil {
		t.Fatal(err)
	}
	l.uncut()
	run(t, d)
	d.Submit(event("B", "TB-NONGSON", "level:water_level", schemas.AlertFired, 2, 0))
	if n := a.next(t); len(n.Alerts) != 1 || n.Alerts[0].ID != "B" {
		t.Fatalf("second term sent %+v first, want B (A was notified meanwhile)", n.Alerts)
	}
}

// ctxLog is a file log whose final records honour their context, as the
// Kafka log's writes do.
type ctxLog struct{ *nflog.File }

func (l ctxLog) MarkSent(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.File.MarkSent(ctx, id, at)
}

// TestSentRecordedWhenTheTermEnds (issue 8): a notification being sent as
// the lease term ends is neither cut off nor left unrecorded, so the next
// holder of the lease does not send it again (two replicas: a rebalance
// made a replica resend it, the same id twice at the receiver).
func TestSentRecordedWhenTheTermEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The term ends while the notification is being sent; a channel that
	// honours its context (as an HTTP request does) is not cut off: it
	// goes out and is recorded.
	a := newFake("a", func(sctx context.Context, _ notify.Notification) error { cancel(); return sctx.Err() })
	l := ctxLog{openLog(t, filepath.Join(t.TempDir(), "nflog.jsonl"))}
	d := dutyDispatcher(t, l, a)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.Submit(event("A", "VG-AINGHIA", "level:water_level", schemas.AlertFired, 2, 0))
	n := a.next(t)
	if err := <-done; err != nil {
		t.Fatalf("term: %v", err)
	}
	e, ok := l.Get(n.ID)
	if !ok || e.State != nflog.Sent {
		t.Fatalf("notification %s after the term: state %q (found %v), want it recorded as sent", n.ID, e.State, ok)
	}
}

// dutyDispatcher is a dispatcher that sends every alert at once to the
// receiver duty's one channel a, with log l.
func dutyDispatcher(t *testing.T, l nflog.Log, a notify.Channel) *dispatch.Dispatcher {
	t.Helper()
	tr := tree(t, immediate)
	d, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l, Tick: 10 * time.Millisecond,
		Channels: map[string][]notify.Channel{"duty": {a}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
