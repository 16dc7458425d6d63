package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/alerts/crashpoint"
	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/alerts/nflog"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/schemas"
)

// ErrNoChannel is returned by Check for a receiver of the tree that has no
// channel in Channels (a decision for it is logged and dropped).
var ErrNoChannel = errors.New("receiver has no channel")

// Config configures a Dispatcher.
type Config struct {
	// Routes returns the routing tree in force (route.Watcher.Current).
	Routes func() *route.Tree
	// Channels are each receiver's channels; a channel's target is
	// "receiver/" + Name(), the name must be unique within the receiver.
	Channels map[string][]notify.Channel
	Log      nflog.Log
	Silences Muter
	Inhibit  *inhibit.Inhibitor
	Logger   *slog.Logger
	// Tick is how often groups are examined (default 1s); Submit also
	// wakes the loop, so a group_wait of 0 does not wait for a tick.
	Tick time.Duration
	// RetryMin and RetryMax bound the backoff of a failing channel
	// (default 1s and 5m); MaxAge abandons a notification that could not be
	// delivered for that long (default 24h).
	RetryMin, RetryMax, MaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Dispatcher turns alert events into notifications: the Grouper decides,
// the notification log records the intent, and one worker per channel
// target sends with retries, so a slow or failing channel delays only its
// own queue, never the others or the caller of Submit.
type Dispatcher struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.Mutex // guards g
	g       *Grouper
	wake    chan struct{}
	workers map[string]*worker // target → worker
	metrics metrics
	// carry are the decisions whose intent a Run could not write when it
	// returned (its ctx ended mid-write: the lease was lost): the grouper
	// counts them as decided, so the next Run must intend them, or they
	// would never be notified (guarded by mu).
	carry []Decision
}

type metrics struct {
	sent, failed, abandoned *prometheus.CounterVec
	queued                  *prometheus.GaugeVec
	decisions               prometheus.Counter
}

// New validates cfg and returns a Dispatcher; Run starts it.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Routes == nil || cfg.Log == nil {
		return nil, errors.New("dispatch: Routes and Log are required")
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), workers: map[string]*worker{},
		metrics: metrics{
			sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_notifications_sent_total",
				Help: "Notifications a channel confirmed, by target."}, []string{"target"}),
			failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_notification_attempts_failed_total",
				Help: "Failed delivery attempts (retried), by target."}, []string{"target"}),
			abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_notifications_abandoned_total",
				Help: "Notifications given up (permanent error or older than the maximum age), by target."}, []string{"target"}),
			queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "resilience_notifications_queued",
				Help: "Notifications waiting for their channel, by target."}, []string{"target"}),
			decisions: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_notification_decisions_total",
				Help: "Notification decisions (one per receiver and group flush, repeat or escalation)."}),
		}}
	d.g = NewGrouper(cfg.Silences, cfg.Inhibit, d.seen)
	for rc, chans := range cfg.Channels {
		for _, ch := range chans {
			t := rc + "/" + ch.Name()
			if d.workers[t] != nil {
				return nil, fmt.Errorf("dispatch: receiver %s: two channels named %s", rc, ch.Name())
			}
			d.workers[t] = &worker{target: t, receiver: rc, ch: ch, signal: make(chan struct{}, 1)}
		}
	}
	return d, nil
}

// Register adds the dispatcher's metrics to reg.
func (d *Dispatcher) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{d.metrics.sent, d.metrics.failed, d.metrics.abandoned, d.metrics.queued, d.metrics.decisions} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Check reports every receiver of t without a channel (errors wrapping
// ErrNoChannel); call it on every tree before it is put in force.
func (d *Dispatcher) Check(t *route.Tree) error {
	var errs []error
	for _, name := range t.ReceiverNames() {
		if len(d.cfg.Channels[name]) == 0 {
			errs = append(errs, fmt.Errorf("dispatch: receiver %s: %w", name, ErrNoChannel))
		}
	}
	return errors.Join(errs...)
}

// seen: a receiver was given member when every one of its targets was.
func (d *Dispatcher) seen(receiver, member string) bool {
	chans := d.cfg.Channels[receiver]
	for _, ch := range chans {
		if !d.cfg.Log.Has(receiver+"/"+ch.Name(), member) {
			return false
		}
	}
	return len(chans) > 0
}

// Submit hands an alert event to the dispatcher. It never blocks on a
// channel: it updates the groups and wakes the loop.
func (d *Dispatcher) Submit(e schemas.AlertEvent) {
	d.mu.Lock()
	d.g.Add(d.cfg.Routes(), e, d.cfg.Now())
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Ack acknowledges an alert (no more repeats or escalations).
func (d *Dispatcher) Ack(alertID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.g.Ack(alertID)
}

// Unack withdraws an acknowledgement (repeats and escalations resume).
func (d *Dispatcher) Unack(alertID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.g.Unack(alertID)
}

// Refresher is a Log shared by replicas (nflog.Kafka): Refresh reads the
// records the other replicas wrote since the last Refresh.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Run resends the log's pending notifications, then decides and delivers
// until ctx is done; it returns nil then, after its workers stopped. Run may
// be called again after it returned (a replica that regains the dispatch
// lease, alerts/lease): each call first reads the log to its end (a
// Refresher: what another replica notified or left pending in between)
// and queues only what the log lists as pending, then intends what the
// previous call decided but could not write to the log before its ctx ended.
func (d *Dispatcher) Run(ctx context.Context) error {
	if r, ok := d.cfg.Log.(Refresher); ok {
		if err := retry.Do(ctx, retry.Policy{Min: d.cfg.RetryMin, Max: d.cfg.RetryMax, OnRetry: func(attempt int, err error, wait time.Duration) {
			d.log.Warn("notification log refresh failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		}}, func(int) error { return r.Refresh(ctx) }); err != nil {
			return nil // only ctx ends the retries: a stop
		}
	}
	for _, w := range d.workers {
		w.reset(d.metrics.queued) // a previous term's queue is in the log's Pending
	}
	for _, e := range d.cfg.Log.Pending() {
		var n notify.Notification
		if err := json.Unmarshal(e.Payload, &n); err != nil {
			d.log.Error("notification log: undecodable pending payload; abandoning", "id", e.ID, "target", e.Target, "err", err)
			_ = d.cfg.Log.Abandon(ctx, e.ID, d.cfg.Now(), "undecodable payload: "+err.Error())
			continue
		}
		if w := d.workers[e.Target]; w != nil {
			d.log.Info("resending notification pending since before the restart", "id", e.ID, "target", e.Target)
			w.push(n, d.metrics.queued)
		} else {
			d.log.Warn("pending notification for a target no longer configured; kept pending", "id", e.ID, "target", e.Target)
		}
	}
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runWorker(ctx, w)
		}()
	}
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	carry := d.takeCarry() // decisions whose intent could not be written yet
	for {
		carry = d.decide(ctx, carry)
		select {
		case <-ctx.Done():
			wg.Wait()
			d.mu.Lock()
			d.carry = append(d.carry, carry...)
			d.mu.Unlock()
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}

// takeCarry returns the decisions a previous Run could not intend, less the
// alerts the log (just refreshed) lists as given to the receiver meanwhile:
// the cut write reached the log after all (then it is pending and queued
// from Pending), or another replica notified them while it held the lease.
func (d *Dispatcher) takeCarry() []Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Decision
	for _, dec := range d.carry {
		dec.Alerts = slices.DeleteFunc(slices.Clone(dec.Alerts), func(e schemas.AlertEvent) bool {
			return d.seen(dec.Receiver, nflog.Member(e.ID, e.EventID))
		})
		if len(dec.Alerts) > 0 {
			out = append(out, dec)
		}
	}
	d.carry = nil
	return out
}

// decide takes the due decisions and hands them to their workers.
func (d *Dispatcher) decide(ctx context.Context, carry []Decision) []Decision {
	d.mu.Lock()
	now := d.cfg.Now()
	due := append(carry, d.g.Due(now)...)
	d.mu.Unlock()
	var left []Decision
	for _, dec := range due {
		d.metrics.decisions.Inc()
		chans := d.cfg.Channels[dec.Receiver]
		if len(chans) == 0 {
			d.log.Error("notification dropped", "receiver", dec.Receiver, "route", dec.Route, "err", ErrNoChannel)
			continue
		}
		members := make([]string, len(dec.Alerts))
		for i, e := range dec.Alerts {
			members[i] = nflog.Member(e.ID, e.EventID)
		}
		failed := false
		for _, ch := range chans {
			target := dec.Receiver + "/" + ch.Name()
			n := notify.Notification{ID: nflog.Key(target, dec.Tier, dec.Slot, members), Receiver: dec.Receiver, Target: target,
				Route: dec.Route, GroupKey: dec.GroupKey, Tier: dec.Tier, Repeat: dec.Repeat, Alerts: dec.Alerts, At: now}
			queued, err := d.intend(ctx, n, members)
			if err != nil {
				if errors.Is(err, nflog.ErrFinal) {
					continue // decided and delivered before a restart
				}
				d.log.Error("notification log write failed; retrying at the next tick", "id", n.ID, "target", target, "err", err)
				failed = true
				continue
			}
			if !queued {
				d.workers[target].push(n, d.metrics.queued)
			}
		}
		if failed {
			left = append(left, dec) // re-intending the targets that succeeded is idempotent
		}
	}
	return left
}

// intend records n's intent; queued is true when it was already pending
// (queued before, or by Run from the log at start), so not to be queued again.
func (d *Dispatcher) intend(ctx context.Context, n notify.Notification, members []string) (queued bool, err error) {
	if e, ok := d.cfg.Log.Get(n.ID); ok && e.State == nflog.Pending {
		return true, nil
	}
	b, err := json.Marshal(n)
	if err != nil {
		return false, err
	}
	return false, d.cfg.Log.Intend(ctx, nflog.Entry{ID: n.ID, Target: n.Target, Members: members, At: n.At, Payload: b})
}

type worker struct {
	target, receiver string
	ch               notify.Channel
	mu               sync.Mutex
	queue            []notify.Notification
	signal           chan struct{}
}

func (w *worker) push(n notify.Notification, g *prometheus.GaugeVec) {
	w.mu.Lock()
	w.queue = append(w.queue, n)
	g.WithLabelValues(w.target).Set(float64(len(w.queue)))
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *worker) reset(g *prometheus.GaugeVec) {
	w.mu.Lock()
	w.queue = nil
	g.WithLabelValues(w.target).Set(0)
	w.mu.Unlock()
}

func (w *worker) pop(g *prometheus.GaugeVec) (notify.Notification, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return notify.Notification{}, false
	}
	n := w.queue[0]
	w.queue = w.queue[1:]
	g.WithLabelValues(w.target).Set(float64(len(w.queue)))
	return n, true
}

func (d *Dispatcher) runWorker(ctx context.Context, w *worker) {
	for {
		n, ok := w.pop(d.metrics.queued)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-w.signal:
				continue
			}
		}
		if err := d.deliver(ctx, w, n); err != nil {
			return // ctx done: the entry stays pending and is resent after the restart
		}
	}
}

// deliver sends n until the channel confirms, a permanent error, MaxAge, or
// ctx ends (then it returns ctx's error).
func (d *Dispatcher) deliver(ctx context.Context, w *worker, n notify.Notification) error {
	var abandoned error // set when the notification is given up
	err := retry.Do(ctx, retry.Policy{Min: d.cfg.RetryMin, Max: d.cfg.RetryMax, OnRetry: func(attempt int, err error, wait time.Duration) {
		d.log.Warn("notification failed; retrying", "id", n.ID, "target", w.target, "attempt", attempt, "wait", wait, "err", err)
	}}, func(attempt int) error {
		if err := ctx.Err(); err != nil {
			return err // the term ended: no new send; the entry stays pending
		}
		// A send that started finishes (within finishGrace) even if the term
		// ends meanwhile: cut off, it may still have reached the receiver
		// and then be sent again by the next holder of the lease.
		sctx, done := graceful(ctx)
		err := w.ch.Send(sctx, n)
		done()
		if err == nil || ctx.Err() != nil {
			return err
		}
		d.metrics.failed.WithLabelValues(w.target).Inc()
		if errors.Is(err, notify.ErrUnconfirmed) {
			d.mu.Lock()
			d.g.EscalateNow(n.GroupKey)
			d.mu.Unlock()
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
		if age := d.cfg.Now().Sub(n.At); errors.Is(err, notify.ErrPermanent) || age > d.cfg.MaxAge {
			d.metrics.abandoned.WithLabelValues(w.target).Inc()
			d.log.Error("notification abandoned", "id", n.ID, "target", w.target, "attempt", attempt, "age", age, "err", err)
			abandoned = err
			return retry.Permanent(err)
		}
		return err
	})
	switch {
	case err == nil:
		d.metrics.sent.WithLabelValues(w.target).Inc()
		crashpoint.Hit(crashpoint.AfterNotify) // test knob, inert unless set
		return d.finish(ctx, n, func(fctx context.Context) error { return d.cfg.Log.MarkSent(fctx, n.ID, d.cfg.Now()) })
	case abandoned != nil:
		return d.finish(ctx, n, func(fctx context.Context) error {
			return d.cfg.Log.Abandon(fctx, n.ID, d.cfg.Now(), abandoned.Error())
		})
	}
	return ctx.Err()
}

// finishGrace is how long the final record of a notification that went
// out may still be written after Run's context ends (the lease term ended,
// a soft stop): the notification was sent, so recording it is what keeps
// the next holder of the lease from sending it again.
const finishGrace = 5 * time.Second

// graceful returns a context that ends finishGrace after ctx ends (or when
// done is called), for work that must not be cut off half-way.
func graceful(ctx context.Context) (context.Context, func()) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(finishGrace, cancel) })
	return gctx, func() { stop(); cancel() }
}

// finish writes the final record, retrying while the log is unavailable,
// for at most finishGrace after ctx ends.
func (d *Dispatcher) finish(ctx context.Context, n notify.Notification, write func(context.Context) error) error {
	fctx, done := graceful(ctx)
	defer done()
	err := retry.Do(fctx, retry.Policy{Min: d.cfg.RetryMin, Max: d.cfg.RetryMax, OnRetry: func(attempt int, err error, _ time.Duration) {
		d.log.Error("notification log: final record failed; retrying", "id", n.ID, "target", n.Target, "attempt", attempt, "err", err)
	}}, func(int) error { return write(fctx) })
	if err != nil {
		return fctx.Err()
	}
	return nil
}
