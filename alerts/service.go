package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/resilience-project/resilience/alerts/basin"
	"github.com/resilience-project/resilience/alerts/crashpoint"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/silence"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/schemas"
)

// Options configure the service.
type Options struct {
	Brokers   []string
	Dialer    *kafka.Dialer
	Store     *store.Store
	Notifiers []notify.Notifier
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	// Topics names the Kafka topics (zero: the unprefixed defaults).
	Topics schemas.KafkaTopics
	// Basin, if set with Writer, evaluates basin-scope composite rules over
	// every station's alerts and produces basin alerts to the alerts topic.
	Basin  *basin.Evaluator
	Writer EventWriter
	// Dispatcher, if set, is given every live event (Submit) and every
	// acknowledgement (Ack, Unack); replayed events are given too when
	// younger than NotifyMaxAge: the dispatcher's notification log decides
	// what was already notified, so alerts raised while the service was
	// down are notified when it comes back.
	Dispatcher Dispatcher
	// NotifyMaxAge bounds how old a replayed event may be to be handed to
	// the Dispatcher (default DefaultNotifyMaxAge): a fresh install does not
	// page for last month.
	NotifyMaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SweepInterval is how often the store drops aged-out resolved alerts
	// (default 1 minute).
	SweepInterval time.Duration
	// Silences is the set the service folds the silence records of the
	// actions topic into (give the same set to the dispatcher,
	// dispatch.Config.Silences); nil: the service makes its own (Silences
	// lists it).
	Silences *silence.Set
	// SilenceRetention is how long an ended silence stays listed before the
	// sweep drops it from memory (default 24h; its record stays on the
	// topic and comes back, ended, after a restart until swept again).
	SilenceRetention time.Duration
}

// DefaultNotifyMaxAge is the default Options.NotifyMaxAge.
const DefaultNotifyMaxAge = 24 * time.Hour

// DefaultSilenceRetention is the default Options.SilenceRetention.
const DefaultSilenceRetention = 24 * time.Hour

// Dispatcher is what the service feeds (alerts/dispatch.Dispatcher).
type Dispatcher interface {
	Submit(e schemas.AlertEvent)
	Ack(alertID string)
	Unack(alertID string)
}

// Sentinel errors of Act.
var (
	// ErrUnknownAlert: the store holds no alert with that id.
	ErrUnknownAlert = errors.New("alerts: no such alert")
	// ErrNoWriter: the service was built without a Writer, so it cannot
	// produce actions.
	ErrNoWriter = errors.New("alerts: no Kafka writer for actions")
	// ErrBadSilenceAction: ExpireSilence without who expires it.
	ErrBadSilenceAction = errors.New("alerts: bad silence action")
)

// EventWriter produces messages synchronously (acks=all).
type EventWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Service consumes alert events into the store and notifies.
type Service struct {
	o            Options
	logger       *slog.Logger
	caughtUp     atomic.Bool
	events       *prometheus.CounterVec
	actions      *prometheus.CounterVec
	notifyErrors *prometheus.CounterVec
	fetchErrors  *prometheus.CounterVec
}

// New builds the service.
func New(o Options) (*Service, error) {
	if len(o.Brokers) == 0 || o.Store == nil {
		return nil, errors.New("alerts: Brokers and Store are required")
	}
	o.Topics = o.Topics.OrDefault()
	if o.Dialer == nil {
		o.Dialer = &kafka.Dialer{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NotifyMaxAge <= 0 {
		o.NotifyMaxAge = DefaultNotifyMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Minute
	}
	if o.Silences == nil {
		o.Silences = silence.NewSet()
	}
	if o.SilenceRetention <= 0 {
		o.SilenceRetention = DefaultSilenceRetention
	}
	s := &Service{o: o, logger: o.Logger.With("component", "alerts"),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_events_total",
			Help: "Alert events consumed, by result (applied, duplicate, bad)."}, []string{"result"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alert_actions_total",
			Help: "Operator actions consumed, by result (applied, duplicate, bad)."}, []string{"result"}),
		notifyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_notify_errors_total",
			Help: "Failed notification attempts, by notifier."}, []string{"notifier"}),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_fetch_errors_total",
			Help: "Failed fetches from the alerts topic (Kafka unavailable), by partition; each is retried with backoff."}, []string{"partition"}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(s.events, s.actions, s.notifyErrors, s.fetchErrors)
	}
	return s, nil
}

// CaughtUp reports whether the startup replay has finished.
func (s *Service) CaughtUp() bool { return s.caughtUp.Load() }

// Run replays and then follows every partition of `alerts` (and of the
// actions topic, if Topics.Actions is set) until ctx is done, and returns
// nil then. Kafka being unavailable (at start or for any time later) is
// retried with backoff, never returned: a Run that returned would stop
// `resilience run` with every other part.
func (s *Service) Run(ctx context.Context) error {
	topics := []string{s.o.Topics.Alerts}
	if s.o.Topics.Actions != "" {
		topics = append(topics, s.o.Topics.Actions)
	}
	counts := make([]int, len(topics))
	total := 0
	for i, t := range topics {
		n, err := s.partitions(ctx, t)
		if err != nil || n == 0 {
			return err // n == 0: a stop
		}
		counts[i] = n
		total += n
	}
	var pending atomic.Int64
	pending.Store(int64(total))
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range topics {
		handle := s.handleEvent
		if t == s.o.Topics.Actions {
			handle = s.handleAction
		}
		for p := 0; p < counts[i]; p++ {
			g.Go(func() error { return s.follow(gctx, t, p, &pending, handle) })
		}
	}
	g.Go(func() error { return s.sweep(gctx) })
	return g.Wait()
}

// sweep drops aged-out resolved alerts from the store every SweepInterval.
func (s *Service) sweep(ctx context.Context) error {
	t := time.NewTicker(s.o.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n := s.o.Store.Sweep(); n > 0 {
				s.logger.Info("resolved alerts aged out of memory", "dropped", n)
			}
			if n := s.o.Silences.GC(s.o.Now().Add(-s.o.SilenceRetention)); n > 0 {
				s.logger.Info("ended silences aged out of memory", "dropped", n)
			}
		}
	}
}

func (s *Service) partitions(ctx context.Context, topic string) (int, error) {
	// An own transport, closed on return: kafka.DefaultTransport would keep
	// a metadata poller and its connections running after Run returns.
	tr := &kafka.Transport{TLS: s.o.Dialer.TLS, SASL: s.o.Dialer.SASLMechanism, DialTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(s.o.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	var n int
	err := retry.Do(ctx, s.policy(func(attempt int, err error, wait time.Duration) {
		s.logger.Warn("topic not available yet", "topic", topic, "attempt", attempt, "retry_in", wait, "err", err)
	}), func(int) error {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		switch {
		case err != nil:
			return err
		case len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0:
			return fmt.Errorf("topic %s: no partitions (%v)", topic, md.Topics)
		}
		n = len(md.Topics[0].Partitions)
		return nil
	})
	if err != nil {
		return 0, nil // only ctx ends the retries: a stop
	}
	return n, nil
}

// policy is the retry policy of the service's Kafka steps (jittered, 200
// ms to 5 s, until success or a stop).
func (s *Service) policy(onRetry func(attempt int, err error, wait time.Duration)) retry.Policy {
	return retry.Policy{Min: readerBackoffMin, Max: readerBackoffMin, OnRetry: onRetry}
}

// readerBackoffMin is the partition reader's shortest wait between two
// dials; it queues an error (in its 100-slot message channel) after each
// failed dial past the third.
const readerBackoffMin = 100 * time.Millisecond

// fetchRetryPolicy paces FetchMessage after an error: a fixed pause no
// longer than readerBackoffMin, since the reader already backs off between
// its dials. A growing pause (up to 5 s) read the queued errors slower than
// the reader produced them during a Kafka outage, and after Kafka returned
// the service went on reading stale "connection refused" errors for more
// than a minute before the first new event (chaos F5).
func fetchRetryPolicy(onRetry func(attempt int, err error, wait time.Duration)) retry.Policy {
	return retry.Policy{Min: readerBackoffMin, Max: readerBackoffMin, OnRetry: onRetry}
}

// handler folds one record of a topic; live is false during the replay.
type handler func(ctx context.Context, partition int, m kafka.Message, live bool)

func (s *Service) follow(ctx context.Context, topic string, partition int, pending *atomic.Int64, handle handler) error {
	var first, end int64
	err := retry.Do(ctx, s.policy(func(attempt int, err error, wait time.Duration) {
		s.logger.Warn("partition not available", "topic", topic, "partition", partition,
			"attempt", attempt, "retry_in", wait, "err", err)
	}), func(int) error {
		conn, err := kafkax.DialLeader(ctx, s.o.Dialer, s.o.Brokers, topic, partition)
		if err != nil {
			return err
		}
		defer conn.Close()
		first, end, err = conn.ReadOffsets()
		return err
	})
	if err != nil {
		return nil // only ctx ends the retries: a stop
	}
	// Nothing to replay when the partition is empty (retention may have
	// removed old records: the log starts at `first`, not 0).
	live := first >= end
	if live && pending.Add(-1) == 0 {
		s.caughtUpNow(ctx)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.o.Brokers, Dialer: s.o.Dialer, Topic: topic,
		Partition: partition, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond,
		ReadBackoffMin: readerBackoffMin})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("alerts: topic %s partition %d: %w", topic, partition, err)
	}
	fetchErrors := s.fetchErrors.WithLabelValues(strconv.Itoa(partition))
	// The reader keeps its offset and reconnects by itself; it reports an
	// error after a few failed dials. Wait and fetch again.
	fetchPolicy := fetchRetryPolicy(func(attempt int, err error, wait time.Duration) {
		fetchErrors.Inc()
		s.logger.Warn("fetch failed; retrying", "topic", topic, "partition", partition,
			"attempt", attempt, "retry_in", wait, "err", err)
	})
	for {
		var m kafka.Message
		if err := retry.Do(ctx, fetchPolicy, func(int) error {
			var err error
			m, err = r.FetchMessage(ctx)
			return err
		}); err != nil {
			return nil // only ctx ends the retries: a stop
		}
		handle(ctx, partition, m, live)
		if !live && m.Offset >= end-1 {
			live = true
			if pending.Add(-1) == 0 {
				s.logger.Info("alerts replay finished", "alerts", s.o.Store.Len())
				s.caughtUpNow(ctx)
			}
		}
	}
}

// handleEvent folds an alert event into the store and, if new, hands it on.
func (s *Service) handleEvent(ctx context.Context, partition int, m kafka.Message, live bool) {
	var e schemas.AlertEvent
	if err := json.Unmarshal(m.Value, &e); err != nil || e.EventID == "" || e.ID == "" {
		s.events.WithLabelValues("bad").Inc()
		s.logger.Error("skipping bad alert event", "topic", m.Topic, "partition", partition, "offset", m.Offset, "err", err)
		return
	}
	if s.o.Basin != nil {
		s.o.Basin.Observe(e)
	}
	before, known := s.o.Store.Get(e.ID)
	if s.o.Store.Apply(e) {
		s.events.WithLabelValues("applied").Inc()
		crashpoint.Hit(crashpoint.AfterConsume) // test knob, inert unless set
		if live {
			s.notify(ctx, e)
		}
		if d := s.o.Dispatcher; d != nil && (live || s.o.Now().Sub(e.At) <= s.o.NotifyMaxAge) {
			s.dispatchEvent(d, e, known && before.State == store.Resolved)
		}
	} else {
		s.events.WithLabelValues("duplicate").Inc()
	}
	if s.caughtUp.Load() {
		s.basins(ctx)
	}
}

// dispatchEvent gives the dispatcher an event the store just folded. An
// alert that was already resolved (by the processor or an operator) is
// over: its resolve notification went out, so later events of it (the
// processor's own all-clear after an operator resolve) are not notified
// again. An alert the event leaves resolved by an operator (an operator
// resolve that arrived before the alert's first event) gets its operator
// resolve event after e.
func (s *Service) dispatchEvent(d Dispatcher, e schemas.AlertEvent, wasResolved bool) {
	if wasResolved {
		return
	}
	d.Submit(e)
	if a, ok := s.o.Store.Get(e.ID); ok && a.State == store.Resolved && a.ResolvedBy != "" && e.Kind != schemas.AlertResolved {
		d.Submit(OperatorResolved(a))
	}
}

// OperatorResolved is the resolved event the dispatcher is given for an
// alert an operator resolved: the same path as the processor's all-clear,
// so every receiver told about the alert gets one resolve notification.
// Its EventID is derived from the alert and the (earliest) operator
// resolve time, so every replica and every replay derives the same event
// and the notification log's ids match.
func OperatorResolved(a store.Alert) schemas.AlertEvent {
	at := a.UpdatedAt
	if a.ResolvedAt != nil {
		at = *a.ResolvedAt
	}
	msg := "resolved by " + a.ResolvedBy
	if a.ResolveReason != "" {
		msg += ": " + a.ResolveReason
	}
	return schemas.AlertEvent{V: schemas.AlertEventVersion, ID: a.ID, EventID: schemas.EventID(a.ID, schemas.AlertResolved, a.Level, at) + ":operator",
		Kind: schemas.AlertResolved, Station: a.Station, Sensor: a.Sensor, Rule: a.Rule, Level: a.Level, LevelName: a.LevelName,
		Severity: a.Severity, Value: a.Value, Threshold: a.Threshold, StartedAt: a.StartedAt, At: at,
		District: a.District, Basin: a.Basin, Message: msg}
}

// handleAction folds an operator action into the store and tells the
// dispatcher about acknowledgements (a resolve by an operator stops the
// repeats and escalations like an ack) and about an operator resolve (the
// resolve notification, OperatorResolved).
func (s *Service) handleAction(_ context.Context, partition int, m kafka.Message, _ bool) {
	if silence.IsRecord(m.Value) {
		s.handleSilence(partition, m)
		return
	}
	var x schemas.AlertAction
	if err := json.Unmarshal(m.Value, &x); err != nil || x.Validate() != nil {
		if err == nil {
			err = x.Validate()
		}
		s.actions.WithLabelValues("bad").Inc()
		s.logger.Error("skipping bad alert action", "topic", m.Topic, "partition", partition, "offset", m.Offset, "err", err)
		return
	}
	before, known := s.o.Store.Get(x.AlertID)
	if !s.o.Store.ApplyAction(x) {
		s.actions.WithLabelValues("duplicate").Inc()
		return
	}
	s.actions.WithLabelValues("applied").Inc()
	d := s.o.Dispatcher
	if d == nil {
		return
	}
	a, ok := s.o.Store.Get(x.AlertID)
	if ok && known && before.State != store.Resolved && a.State == store.Resolved && x.Kind == schemas.ActionResolve &&
		s.o.Now().Sub(a.UpdatedAt) <= s.o.NotifyMaxAge {
		d.Submit(OperatorResolved(a))
	}
	switch {
	case ok && a.State == store.Firing:
		d.Unack(x.AlertID)
	case ok || x.Kind == schemas.ActionAck || x.Kind == schemas.ActionResolve:
		// Acknowledged, resolved, or held until the alert's first event.
		d.Ack(x.AlertID)
	}
}

// Act produces an operator action on a known alert to the actions topic
// and returns it; the store folds it when it comes back from the topic (so
// every replica applies it the same way). Errors: ErrUnknownAlert,
// ErrNoWriter, schemas.ErrBadAction, or the producer's.
func (s *Service) Act(ctx context.Context, alertID string, kind schemas.ActionKind, by, note string) (schemas.AlertAction, error) {
	if _, ok := s.o.Store.Get(alertID); !ok {
		return schemas.AlertAction{}, fmt.Errorf("alert %q: %w", alertID, ErrUnknownAlert)
	}
	if s.o.Writer == nil || s.o.Topics.Actions == "" {
		return schemas.AlertAction{}, ErrNoWriter
	}
	x, err := schemas.NewAlertAction(alertID, kind, by, note, s.o.Now())
	if err != nil {
		return x, err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return x, err
	}
	if err := s.o.Writer.WriteMessages(ctx, kafka.Message{Topic: s.o.Topics.Actions, Key: []byte(x.ActionID), Value: b}); err != nil {
		return x, fmt.Errorf("alert %s: %s: topic %s: %w", alertID, kind, s.o.Topics.Actions, err)
	}
	s.logger.Info("alert action", "alert", alertID, "kind", kind, "by", by, "action_id", x.ActionID)
	return x, nil
}

// caughtUpNow marks the replay finished and emits the basin alerts the
// replay shows missing (a crash between a station event and its basin
// event, or basin rules changed while stopped).
func (s *Service) caughtUpNow(ctx context.Context) {
	s.caughtUp.Store(true)
	s.basins(ctx)
}

// basins evaluates the basin rules and produces what changed, retrying
// until it succeeds or ctx ends. The events come back through the topic
// into the store and the notifiers like any other.
func (s *Service) basins(ctx context.Context) {
	if s.o.Basin == nil || s.o.Writer == nil {
		return
	}
	evs := s.o.Basin.Evaluate()
	if len(evs) == 0 {
		return
	}
	msgs := make([]kafka.Message, 0, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			s.logger.Error("encode basin alert", "id", evs[i].ID, "err", err)
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: s.o.Topics.Alerts, Key: []byte(evs[i].Station), Value: b,
			Headers: []kafka.Header{{Key: "event_id", Value: []byte(evs[i].EventID)}}})
	}
	if err := retry.Do(ctx, s.policy(func(attempt int, err error, wait time.Duration) {
		s.logger.Warn("producing basin alerts failed; retrying", "topic", s.o.Topics.Alerts, "attempt", attempt, "retry_in", wait, "err", err)
	}), func(int) error { return s.o.Writer.WriteMessages(ctx, msgs...) }); err != nil {
		return // a stop
	}
	for _, e := range evs {
		s.logger.Info("basin alert event", "id", e.ID, "kind", e.Kind, "basin", e.Basin, "rule", e.Rule)
	}
}

// notify hands the event to every notifier, retrying each a few times.
func (s *Service) notify(ctx context.Context, e schemas.AlertEvent) {
	a, _ := s.o.Store.Get(e.ID)
	for _, n := range s.o.Notifiers {
		p := s.policy(nil)
		p.Attempts = 5
		err := retry.Do(ctx, p, func(attempt int) error {
			err := n.Notify(ctx, a, e)
			if err != nil {
				s.notifyErrors.WithLabelValues(n.Name()).Inc()
				s.logger.Warn("notify failed", "notifier", n.Name(), "alert", e.ID, "attempt", attempt, "err", err)
			}
			return err
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.logger.Error("notification given up", "notifier", n.Name(), "alert", e.ID, "err", err)
		}
	}
}
