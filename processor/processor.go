package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// PointSink stores line protocol. Write returns nil only once the lines are
// durable (see influxsink and filesink).
type PointSink interface {
	Write(ctx context.Context, lines []byte) error
}

// EventWriter produces messages synchronously (acks=all); *kafka.Writer
// from kafkax.NewWriter satisfies it.
type EventWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Deps are the processor's collaborators.
type Deps struct {
	Brokers  []string
	Registry *schemas.Registry
	Engine   *rules.Engine
	Points   PointSink
	// Writer produces to `alerts` and `processor.state` (messages carry their topic).
	Writer EventWriter
	// View, if set, is updated after each committed batch (HTTP API).
	View *View
	// OnEvent, if set, is called with every alert event after it is produced.
	OnEvent func(schemas.AlertEvent)
	Now     func() time.Time
	// Dialer is used by the consumer group and readers (TLS/SASL).
	Dialer *kafka.Dialer
	// Topics names the Kafka topics (zero: the unprefixed defaults).
	Topics schemas.KafkaTopics
}

// Processor is a member of the processor consumer group.
type Processor struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	m      *metrics
	ready  chan struct{}
	once   sync.Once
	// gap counts the records, over this processor's partitions, whose
	// points the point sink has not stored yet.
	gap atomic.Int64
}

// New builds a processor. It does not connect; Run does.
func New(cfg Config, deps Deps, logger *slog.Logger, reg prometheus.Registerer) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(deps.Brokers) == 0 || deps.Registry == nil || deps.Engine == nil || deps.Points == nil || deps.Writer == nil {
		return nil, errors.New("processor: Brokers, Registry, Engine, Points and Writer are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	deps.Topics = deps.Topics.OrDefault()
	if deps.Dialer == nil {
		deps.Dialer = &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	}
	if logger == nil {
		logger = slog.Default()
	}
	p := &Processor{cfg: cfg, deps: deps, logger: logger.With("component", "processor"), ready: make(chan struct{})}
	p.m = newMetrics(reg, &p.gap)
	return p, nil
}

// LandingGap is the number of processed records whose points the point
// sink has not stored yet (it refused them, e.g. a full InfluxDB spool):
// their alerts and state are done, their points are re-read from Kafka and
// written once the sink accepts again, and the commit waits for them.
func (p *Processor) LandingGap() int64 { return p.gap.Load() }

// Ready is closed once the processor owns partitions and restored their state.
func (p *Processor) Ready() <-chan struct{} { return p.ready }

// Run consumes until ctx is done. It returns nil on a soft stop.
func (p *Processor) Run(ctx context.Context) error {
	parts, err := p.partitionCounts(ctx)
	if err != nil {
		return err
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                p.cfg.Group,
		Brokers:           p.deps.Brokers,
		Dialer:            p.deps.Dialer,
		Topics:            []string{p.deps.Topics.Readings},
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    p.cfg.SessionTimeout,
		HeartbeatInterval: p.cfg.SessionTimeout / 5,
		RebalanceTimeout:  p.cfg.SessionTimeout * 2,
		JoinGroupBackoff:  time.Second,
		// Partition counts are checked once at start (co-partitioning with
		// the changelog); adding partitions needs a restart.
		WatchPartitionChanges: false,
		RetentionTime:         7 * 24 * time.Hour,
	})
	if err != nil {
		return fmt.Errorf("processor: consumer group %s: %w", p.cfg.Group, err)
	}
	defer group.Close()
	var running sync.WaitGroup
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			p.logger.Warn("consumer group: next generation failed; retrying", "group", p.cfg.Group, "err", err)
			if retry.Sleep(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		assigned := gen.Assignments[p.deps.Topics.Readings]
		ids := make([]int, 0, len(assigned))
		for _, a := range assigned {
			ids = append(ids, a.ID)
		}
		p.logger.Info("partitions assigned", "group", p.cfg.Group, "generation", gen.ID, "member", gen.MemberID, "partitions", ids)
		p.m.owned.Set(float64(len(assigned)))
		var restored, workers sync.WaitGroup
		restored.Add(len(assigned))
		workers.Add(len(assigned))
		for _, a := range assigned {
			a := a
			running.Add(1)
			gen.Start(func(gctx context.Context) {
				defer running.Done()
				// kafka-go ends the generation as soon as one of these
				// functions returns. On a soft stop an idle worker is done at
				// once; it waits for its siblings so that their batches can
				// still be committed in this generation.
				defer func() {
					workers.Done()
					if ctx.Err() != nil {
						workers.Wait()
					}
				}()
				w := &worker{p: p, gen: gen, partition: a.ID, nparts: parts, logger: p.logger.With("partition", a.ID)}
				// Bind the generation's lifetime and the soft stop together.
				wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
				defer cancel()
				go func() {
					select {
					case <-gctx.Done():
						cancel()
					case <-ctx.Done():
						// Soft stop: the worker finishes its batch, bounded.
						t := time.NewTimer(p.cfg.StopTimeout)
						defer t.Stop()
						select {
						case <-t.C:
							cancel()
						case <-wctx.Done():
						}
					}
				}()
				w.run(wctx, ctx, a.Offset, restored.Done)
			})
		}
		go func() {
			restored.Wait()
			p.once.Do(func() { close(p.ready) })
		}()
		// Wait for this generation to end (rebalance) or a stop.
		select {
		case <-ctx.Done():
			// Soft stop: let the workers finish the batch in hand.
			running.Wait()
			return nil
		case <-genDone(gen):
		}
	}
}

// genDone returns a channel closed when a generation ends.
func genDone(gen *kafka.Generation) <-chan struct{} {
	ch := make(chan struct{})
	gen.Start(func(ctx context.Context) {
		<-ctx.Done()
		close(ch)
	})
	return ch
}

// partitionCounts checks that readings and the changelog are co-partitioned.
func (p *Processor) partitionCounts(ctx context.Context) (int, error) {
	cl, done := kafkax.NewClient(p.deps.Brokers, nil)
	defer done()
	tp := p.deps.Topics
	var n map[string]int
	err := retry.Do(ctx, retry.Policy{Min: 200 * time.Millisecond, Max: 5 * time.Second,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			p.logger.Warn("kafka metadata not available yet", "attempt", attempt, "retry_in", wait, "err", err)
		}}, func(int) error {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{tp.Readings, tp.State}})
		if err != nil {
			return err
		}
		n = map[string]int{}
		for _, t := range md.Topics {
			if t.Error == nil {
				n[t.Name] = len(t.Partitions)
			}
		}
		if n[tp.Readings] == 0 || n[tp.State] == 0 {
			return fmt.Errorf("topics %s/%s missing", tp.Readings, tp.State)
		}
		if n[tp.Readings] != n[tp.State] {
			return retry.Permanent(fmt.Errorf("%w: %s has %d, %s has %d", ErrPartitionMismatch,
				tp.Readings, n[tp.Readings], tp.State, n[tp.State]))
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	}
	return n[tp.Readings], nil
}

type metrics struct {
	records      *prometheus.CounterVec
	events       *prometheus.CounterVec
	batchSeconds prometheus.Histogram
	lag          *prometheus.GaugeVec
	owned        prometheus.Gauge
	retries      *prometheus.CounterVec
	notices      prometheus.Counter
	restored     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, gap *atomic.Int64) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_processor_records_total",
			Help: "Records processed, by outcome (ok, duplicate, late, bad, unknown_station)."}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_processor_alert_events_total",
			Help: "Alert events produced, by kind."}, []string{"kind"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_processor_batch_seconds",
			Help: "Time from fetch to commit of one batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "resilience_processor_consumer_lag",
			Help: "Messages behind the end of the readings partition."}, []string{"partition"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "resilience_processor_partitions",
			Help: "Readings partitions owned by this processor."}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_processor_retries_total",
			Help: "Pipeline step retries, by step."}, []string{"step"}),
		notices: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_processor_notices_total",
			Help: "Operator notices (e.g. seq gaps: data loss upstream)."}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_processor_states_restored_total",
			Help: "Station states restored from the changelog."}),
	}
	for _, o := range []string{"ok", "duplicate", "late", "bad", "unknown_station"} {
		m.records.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.records, m.events, m.batchSeconds, m.lag, m.owned, m.retries, m.notices, m.restored,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_processor_landing_gap",
				Help: "Processed records whose points are not stored yet (the point sink refused them); the commit waits for them."},
				func() float64 { return float64(gap.Load()) }))
	}
	return m
}
