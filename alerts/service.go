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
	"github.com/resilience-project/resilience/alerts/notify"
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
}

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
	s := &Service{o: o, logger: o.Logger.With("component", "alerts"),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_events_total",
			Help: "Alert events consumed, by result (applied, duplicate, bad)."}, []string{"result"}),
		notifyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_notify_errors_total",
			Help: "Failed notification attempts, by notifier."}, []string{"notifier"}),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_alerts_fetch_errors_total",
			Help: "Failed fetches from the alerts topic (Kafka unavailable), by partition; each is retried with backoff."}, []string{"partition"}),
	}
	if o.Registry != nil {
		o.Registry.MustRegister(s.events, s.notifyErrors, s.fetchErrors)
	}
	return s, nil
}

// CaughtUp reports whether the startup replay has finished.
func (s *Service) CaughtUp() bool { return s.caughtUp.Load() }

// Run replays and then follows every partition of `alerts` until ctx is
// done, and returns nil then. Kafka being unavailable (at start or for any
// time later) is retried with backoff, never returned: a Run that returned
// would stop `resilience run` with every other part.
func (s *Service) Run(ctx context.Context) error {
	parts, err := s.partitions(ctx)
	if err != nil {
		return err
	}
	var pending atomic.Int64
	pending.Store(int64(parts))
	g, gctx := errgroup.WithContext(ctx)
	for p := 0; p < parts; p++ {
		p := p
		g.Go(func() error { return s.follow(gctx, p, &pending) })
	}
	return g.Wait()
}

func (s *Service) partitions(ctx context.Context) (int, error) {
	// An own transport, closed on return: kafka.DefaultTransport would keep
	// a metadata poller and its connections running after Run returns.
	tr := &kafka.Transport{TLS: s.o.Dialer.TLS, SASL: s.o.Dialer.SASLMechanism, DialTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(s.o.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	var n int
	err := retry.Do(ctx, s.policy(func(attempt int, err error, wait time.Duration) {
		s.logger.Warn("alerts topic not available yet", "topic", s.o.Topics.Alerts, "attempt", attempt, "retry_in", wait, "err", err)
	}), func(int) error {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.o.Topics.Alerts}})
		switch {
		case err != nil:
			return err
		case len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) == 0:
			return fmt.Errorf("topic %s: no partitions (%v)", s.o.Topics.Alerts, md.Topics)
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
	return retry.Policy{Min: 200 * time.Millisecond, Max: 5 * time.Second, OnRetry: onRetry}
}

func (s *Service) follow(ctx context.Context, partition int, pending *atomic.Int64) error {
	var first, end int64
	err := retry.Do(ctx, s.policy(func(attempt int, err error, wait time.Duration) {
		s.logger.Warn("alerts partition not available", "topic", s.o.Topics.Alerts, "partition", partition,
			"attempt", attempt, "retry_in", wait, "err", err)
	}), func(int) error {
		conn, err := kafkax.DialLeader(ctx, s.o.Dialer, s.o.Brokers, s.o.Topics.Alerts, partition)
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
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.o.Brokers, Dialer: s.o.Dialer, Topic: s.o.Topics.Alerts,
		Partition: partition, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("alerts: topic %s partition %d: %w", s.o.Topics.Alerts, partition, err)
	}
	fetchErrors := s.fetchErrors.WithLabelValues(strconv.Itoa(partition))
	// The reader keeps its offset and reconnects by itself; it reports an
	// error after a few failed dials. Wait and fetch again.
	fetchPolicy := s.policy(func(attempt int, err error, wait time.Duration) {
		fetchErrors.Inc()
		s.logger.Warn("alerts fetch failed; retrying", "topic", s.o.Topics.Alerts, "partition", partition,
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
		var e schemas.AlertEvent
		if err := json.Unmarshal(m.Value, &e); err != nil || e.EventID == "" || e.ID == "" {
			s.events.WithLabelValues("bad").Inc()
			s.logger.Error("skipping bad alert event", "partition", partition, "offset", m.Offset, "err", err)
		} else {
			if s.o.Basin != nil {
				s.o.Basin.Observe(e)
			}
			if s.o.Store.Apply(e) {
				s.events.WithLabelValues("applied").Inc()
				if live {
					s.notify(ctx, e)
				}
			} else {
				s.events.WithLabelValues("duplicate").Inc()
			}
			if s.caughtUp.Load() {
				s.basins(ctx)
			}
		}
		if !live && m.Offset >= end-1 {
			live = true
			if pending.Add(-1) == 0 {
				s.logger.Info("alerts replay finished", "alerts", len(s.o.Store.List(store.Filter{})))
				s.caughtUpNow(ctx)
			}
		}
	}
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
