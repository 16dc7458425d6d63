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
	// AlertWriter, if set, produces the alerts instead of Writer: a writer
	// with a connection of its own, so that an alert never waits behind a
	// changelog write (Kafka answers a connection's requests one at a
	// time, in order).
	AlertWriter EventWriter
	// View, if set, is updated after each evaluated batch (HTTP API).
	View *View
	// OnEvent, if set, is called with every alert event after it is produced,
	// in offset order per partition, from the partitions' goroutines at once.
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
	status membership
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
	if deps.AlertWriter == nil {
		deps.AlertWriter = deps.Writer
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
	p := &Processor{cfg: cfg, deps: deps, logger: logger.With("component", "processor")}
	p.m = newMetrics(reg, &p.gap)
	return p, nil
}

// LandingGap is the number of processed records whose points the point
// sink has not stored yet (it refused them, e.g. a full InfluxDB spool):
// their alerts and state are done, their points are re-read from Kafka and
// written once the sink accepts again, and the commit waits for them.
func (p *Processor) LandingGap() int64 { return p.gap.Load() }

// Ready follows the consumer-group membership: it is nil while the
// processor is a member of a live generation and every partition it owns
// has its state restored and its worker running. A member that owns no
// partition is ready when the group has at least as many members as
// partitions (a standby, ready to take a partition over). Otherwise Ready
// says why not: ErrNotRunning before Run and after it returned, else an
// error wrapping ErrNotReady (joining the consumer group, rebalancing,
// generation N ended and why, restoring, stopping, no partitions
// assigned with M members for P partitions). It turns non-nil when the
// generation ends (a rebalance, a lost coordinator: the heartbeat fails
// within SessionTimeout/5 plus the connection timeout, or a worker leaving
// on an error) and nil again once a new generation is running.
func (p *Processor) Ready() error { return p.status.ready() }

// Run consumes until ctx is done. It returns nil on a soft stop: the
// workers finish the batch in hand (bounded by StopTimeout), then the
// group is left. See the package documentation for the soft stop and the
// hard close.
func (p *Processor) Run(ctx context.Context) error {
	p.status.start()
	defer p.status.stop()
	parts, err := p.partitionCounts(ctx)
	if err != nil {
		return err
	}
	p.status.setPartitions(parts)
	group, err := p.newGroup()
	if err != nil {
		return err
	}
	defer group.Close()
	cl, done := kafkax.NewClient(p.deps.Brokers, p.deps.Dialer.TLS)
	defer done()
	p.generations(ctx, group, cl, parts)
	return nil
}

// newGroup builds the consumer group on the readings topic.
func (p *Processor) newGroup() (*kafka.ConsumerGroup, error) {
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
		return nil, fmt.Errorf("processor: consumer group %s: %w", p.cfg.Group, err)
	}
	return group, nil
}

// generations runs one generation after another until ctx is done, then
// waits for the soft stop of the workers of the last one.
func (p *Processor) generations(ctx context.Context, group *kafka.ConsumerGroup, cl *kafka.Client, parts int) {
	// running counts the worker functions of every generation, so that the
	// soft stop waits for all of them.
	var running sync.WaitGroup
	for {
		gen, err := p.nextGeneration(ctx, group)
		if err != nil {
			return // a stop
		}
		ended := p.startGeneration(ctx, gen, cl, parts, &running)
		select {
		case <-ctx.Done():
			p.status.stopRequested()
			running.Wait()
			return
		case <-ended:
			p.status.ended(gen.ID)
			p.logger.Info("generation ended", "group", p.cfg.Group, "generation", gen.ID)
		}
	}
}

// nextGeneration waits for the group's next generation, retrying with
// backoff while joining fails; the error is non-nil only on a stop.
func (p *Processor) nextGeneration(ctx context.Context, group *kafka.ConsumerGroup) (*kafka.Generation, error) {
	var gen *kafka.Generation
	err := retry.Do(ctx, retry.Policy{Min: time.Second, Max: 5 * time.Second,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			p.status.joinFailed(err)
			p.logger.Warn("consumer group: next generation failed; retrying", "group", p.cfg.Group,
				"topic", p.deps.Topics.Readings, "attempt", attempt, "retry_in", wait, "err", err)
		}}, func(int) error {
		var err error
		gen, err = group.Next(ctx)
		if errors.Is(err, kafka.ErrGroupClosed) {
			return retry.Permanent(err)
		}
		return err
	})
	return gen, err
}

// startGeneration starts one worker per partition of gen and returns a
// channel closed when gen ends.
func (p *Processor) startGeneration(ctx context.Context, gen *kafka.Generation, cl *kafka.Client, parts int, running *sync.WaitGroup) <-chan struct{} {
	assigned := gen.Assignments[p.deps.Topics.Readings]
	ids := make([]int, 0, len(assigned))
	for _, a := range assigned {
		ids = append(ids, a.ID)
	}
	p.logger.Info("partitions assigned", "group", p.cfg.Group, "generation", gen.ID, "member", gen.MemberID, "partitions", ids)
	p.m.owned.Set(float64(len(assigned)))
	members, membersErr := 0, error(nil)
	if len(assigned) == 0 {
		members, membersErr = p.groupMembers(ctx, cl)
		p.logger.Info("no partitions assigned", "group", p.cfg.Group, "generation", gen.ID,
			"members", members, "partitions", parts, "err", membersErr)
	}
	p.status.joined(gen.ID, ids, members, membersErr)
	// siblings counts this generation's workers: on a soft stop an idle
	// worker waits for them (see startWorker).
	var siblings sync.WaitGroup
	siblings.Add(len(assigned))
	for _, a := range assigned {
		running.Add(1)
		p.startWorker(ctx, gen, a, parts, running, &siblings)
	}
	return genDone(gen)
}

// startWorker runs the worker of one partition of gen, bound to the
// generation (hard) and to ctx (soft stop).
func (p *Processor) startWorker(ctx context.Context, gen *kafka.Generation, a kafka.PartitionAssignment, parts int, running, siblings *sync.WaitGroup) {
	gen.Start(func(gctx context.Context) {
		defer running.Done()
		// kafka-go ends the generation as soon as one of these functions
		// returns. On a soft stop an idle worker is done at once; it waits
		// for its siblings so that their batches can still be committed in
		// this generation.
		defer func() {
			siblings.Done()
			if ctx.Err() != nil {
				siblings.Wait()
			}
		}()
		hard, cancel := p.hardContext(ctx, gctx)
		defer cancel()
		w := &worker{p: p, gen: gen, partition: a.ID, nparts: parts, gone: gctx, logger: p.logger.With("partition", a.ID)}
		err := w.run(hard, ctx, a.Offset, func() { p.status.workerRunning(gen.ID) })
		if err != nil {
			p.status.workerLeft(gen.ID, a.ID, err)
			w.logger.Error("partition worker leaving the generation; its records are replayed from the commit",
				"topic", p.deps.Topics.Readings, "partition", a.ID, "generation", gen.ID, "err", err)
		}
	})
}

// hardContext is the worker's hard context: cancelled StopTimeout after a
// soft stop (ctx done), or the revoke grace after the generation ends
// (gctx), whichever comes first, if the worker has not finished by then.
func (p *Processor) hardContext(ctx, gctx context.Context) (context.Context, context.CancelFunc) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go p.cutOff(ctx, gctx, hard, cancel)
	return hard, cancel
}

// cutOff cancels hard (the hard close) StopTimeout after ctx is done or
// revokeGrace after gctx is done, whichever is earlier; it returns when
// hard is done.
func (p *Processor) cutOff(ctx, gctx, hard context.Context, cancel context.CancelFunc) {
	soft, gone := ctx.Done(), gctx.Done()
	var at time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func(d time.Duration) {
		if t := time.Now().Add(d); at.IsZero() || t.Before(at) {
			at = t
			timer.Reset(d)
		}
	}
	for {
		select {
		case <-soft:
			soft = nil
			arm(p.cfg.StopTimeout)
		case <-gone:
			gone = nil
			arm(p.revokeGrace())
		case <-timer.C:
			cancel()
			return
		case <-hard.Done():
			return
		}
	}
}

// revokeGrace is how long a worker may take, once its generation ended,
// to finish the batch in hand and take its final snapshot and commit (each
// step tried once): the group's rebalance waits for it.
func (p *Processor) revokeGrace() time.Duration {
	return min(p.cfg.StopTimeout, p.cfg.SessionTimeout/2)
}

// groupMembers asks the coordinator how many members the group has.
func (p *Processor) groupMembers(ctx context.Context, cl *kafka.Client) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SessionTimeout)
	defer cancel()
	res, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{p.cfg.Group}})
	if err != nil {
		return 0, fmt.Errorf("processor: describe group %s: %w", p.cfg.Group, err)
	}
	for _, g := range res.Groups {
		if g.GroupID == p.cfg.Group {
			if g.Error != nil {
				return 0, fmt.Errorf("processor: describe group %s: %w", p.cfg.Group, g.Error)
			}
			return len(g.Members), nil
		}
	}
	return 0, fmt.Errorf("processor: describe group %s: not in the answer", p.cfg.Group)
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
	cl, done := kafkax.NewClient(p.deps.Brokers, p.deps.Dialer.TLS)
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
	records *prometheus.CounterVec
	// outcome holds the records counter of each outcome, looked up once
	// (WithLabelValues hashes its labels at every call: once per record).
	outcome         outcomes
	events          *prometheus.CounterVec
	batchSeconds    prometheus.Histogram
	snapshotSeconds prometheus.Histogram
	lag             *prometheus.GaugeVec
	owned           prometheus.Gauge
	retries         *prometheus.CounterVec
	notices         prometheus.Counter
	restored        prometheus.Counter
}

// outcomes are the records counters by outcome.
type outcomes struct {
	ok, duplicate, late, bad, unknownStation prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, gap *atomic.Int64) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_processor_records_total",
			Help: "Records processed, by outcome (ok, duplicate, late, bad, unknown_station)."}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_processor_alert_events_total",
			Help: "Alert events produced, by kind."}, []string{"kind"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_processor_batch_seconds",
			Help: "Time from fetch to the alert events produced and the points handed to the point writer, of one batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		snapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_processor_snapshot_seconds",
			Help: "Time of one snapshot: waiting for the points in flight, the changed states to the changelog, the commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
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
	m.outcome = outcomes{ok: m.records.WithLabelValues("ok"), duplicate: m.records.WithLabelValues("duplicate"),
		late: m.records.WithLabelValues("late"), bad: m.records.WithLabelValues("bad"),
		unknownStation: m.records.WithLabelValues("unknown_station")}
	if reg != nil {
		reg.MustRegister(m.records, m.events, m.batchSeconds, m.snapshotSeconds, m.lag, m.owned, m.retries, m.notices, m.restored,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_processor_landing_gap",
				Help: "Processed records whose points are not stored yet (the point sink refused them); the commit waits for them."},
				func() float64 { return float64(gap.Load()) }))
	}
	return m
}
