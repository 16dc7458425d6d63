package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/schemas"
)

// KafkaWriter is what the collector needs of a Kafka producer: a
// synchronous write that returns only once every message is acknowledged.
// *kafka.Writer from kafkax.NewWriter satisfies it.
type KafkaWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Deps are the collector's collaborators.
type Deps struct {
	Registry  *schemas.Registry
	Writer    KafkaWriter
	NewClient ClientFactory // nil: NewPahoClient
	// Topics names the Kafka topics (zero: the unprefixed defaults).
	Topics schemas.KafkaTopics
	Now    func() time.Time
}

// Collector moves device messages from MQTT to Kafka. Create with New and
// start with Run.
type Collector struct {
	cfg     Config
	deps    Deps
	dec     schemas.Decoder
	logger  *slog.Logger
	m       *metrics
	in      chan Message
	slots   chan struct{} // one per unacknowledged message: caps them at MaxUndelivered
	ready   atomic.Bool
	pending atomic.Int64
}

// New builds a collector. It does not connect; Run does.
func New(cfg Config, deps Deps, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("ingest.mqtt_url: must be set (the embedded broker sets it in run mode)")
	}
	if deps.Registry == nil || deps.Writer == nil {
		return nil, errors.New("ingest: Registry and Writer are required")
	}
	if deps.NewClient == nil {
		deps.NewClient = NewPahoClient
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	deps.Topics = deps.Topics.OrDefault()
	if logger == nil {
		logger = slog.Default()
	}
	c := &Collector{
		cfg:    cfg,
		deps:   deps,
		dec:    schemas.Decoder{Registry: deps.Registry, Opts: cfg.DecodeOptions()},
		logger: logger.With("component", "ingest"),
		in:     make(chan Message, cfg.MaxUndelivered),
		slots:  make(chan struct{}, cfg.MaxUndelivered),
	}
	c.m = newMetrics(reg, &c.pending)
	return c, nil
}

// Ready reports whether the collector is connected and subscribed.
func (c *Collector) Ready() bool { return c.ready.Load() }

// Run connects, subscribes and forwards until ctx is done. On stop it
// finishes the batch in hand (soft stop, bounded by 10 s), then disconnects;
// messages not yet written stay unacknowledged with the broker.
func (c *Collector) Run(ctx context.Context) error {
	client, err := c.deps.NewClient(c.cfg, c.logger)
	if err != nil {
		return err
	}
	// handle runs on the MQTT client's dispatch goroutines. It blocks while
	// MaxUndelivered messages wait unacknowledged (queued, or in the batch
	// being written): that is the backpressure. A slot is taken per message
	// and given back only when the message is acknowledged; the channel
	// alone would admit MaxUndelivered more once a batch is taken off it.
	handle := func(m Message) {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c.pending.Add(1)
		select {
		case c.in <- m: // never waits: in has a place for every slot
		case <-ctx.Done():
			c.pending.Add(-1)
			<-c.slots
		}
	}
	if err := client.Connect(ctx, c.cfg.Filters(), handle); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	c.ready.Store(true)
	defer func() {
		c.ready.Store(false)
		client.Disconnect()
	}()
	c.logger.Info("collector running", "broker", c.cfg.URL, "filters", c.cfg.Filters(), "max_undelivered", c.cfg.MaxUndelivered)

	batch := make([]Message, 0, c.cfg.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-c.in:
			batch = append(batch, m)
		}
		batch = c.fill(ctx, batch)
		// The batch in hand is finished even if ctx is cancelled meanwhile
		// (soft stop); a hard deadline bounds it.
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, cancel) })
		err := c.forward(wctx, batch)
		stop()
		cancel()
		if err != nil {
			// Not acknowledged: the broker redelivers them.
			c.logger.Warn("collector stopping with unacknowledged messages", "count", len(batch), "err", err)
			return nil
		}
	}
}

// fill adds messages to batch until it is full or BatchWait has passed.
func (c *Collector) fill(ctx context.Context, batch []Message) []Message {
	if c.cfg.BatchWait <= 0 {
		for len(batch) < c.cfg.BatchSize {
			select {
			case m := <-c.in:
				batch = append(batch, m)
			default:
				return batch
			}
		}
		return batch
	}
	t := time.NewTimer(c.cfg.BatchWait)
	defer t.Stop()
	for len(batch) < c.cfg.BatchSize {
		select {
		case m := <-c.in:
			batch = append(batch, m)
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// forward decodes a batch, writes records and dead letters to Kafka
// (retrying until success or ctx ends) and then acknowledges every message.
func (c *Collector) forward(ctx context.Context, batch []Message) error {
	now := c.deps.Now()
	msgs := make([]kafka.Message, 0, len(batch))
	var rejected, accepted int
	for _, m := range batch {
		recs, err := c.dec.Decode(m.Topic(), m.Payload(), now)
		if err != nil {
			reason := schemas.ReasonOf(err)
			if reason == "" {
				reason = schemas.ReasonBadJSON
			}
			c.m.rejected.WithLabelValues(string(reason)).Inc()
			rejected++
			dl := schemas.DeadLetter{V: schemas.DeadLetterVersion, Reason: reason, Detail: err.Error(), Topic: m.Topic(), Payload: m.Payload(), ReceivedAt: now.UTC(), Collector: c.cfg.ClientID}
			b, _ := json.Marshal(dl)
			station, _ := schemas.ParseTopic(m.Topic())
			msgs = append(msgs, kafka.Message{Topic: c.deps.Topics.DLQ, Key: []byte(station), Value: b, Time: now,
				Headers: []kafka.Header{{Key: "reason", Value: []byte(reason)}}})
			continue
		}
		accepted++
		for i := range recs {
			b, err := json.Marshal(&recs[i])
			if err != nil { // cannot happen: records are finite and well-formed
				return fmt.Errorf("ingest: encode record station %s seq %d: %w", recs[i].Station, recs[i].Seq, err)
			}
			msgs = append(msgs, kafka.Message{Topic: c.deps.Topics.Readings, Key: []byte(recs[i].Station), Value: b, Time: now})
		}
	}
	if err := c.write(ctx, msgs); err != nil {
		return err
	}
	for _, m := range batch {
		m.Ack()
	}
	c.pending.Add(-int64(len(batch)))
	for range batch {
		<-c.slots
	}
	c.m.messages.WithLabelValues("accepted").Add(float64(accepted))
	c.m.messages.WithLabelValues("rejected").Add(float64(rejected))
	c.m.records.Add(float64(len(msgs) - rejected))
	return nil
}

// write produces msgs, retrying retryable failures with backoff forever
// (until ctx ends). Partial success is fine: a retry rewrites the whole
// batch and the processor drops the duplicates.
func (c *Collector) write(ctx context.Context, msgs []kafka.Message) error {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := c.deps.Writer.WriteMessages(ctx, msgs...)
		c.m.produceSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", ErrStopped, err)
		}
		re := &RetryableError{Op: "produce", Topic: c.deps.Topics.Readings, Attempt: attempt, Err: err}
		c.m.produceErrors.Inc()
		wait := retry.Backoff(attempt, 100*time.Millisecond, 5*time.Second)
		c.logger.Warn("kafka write failed; holding MQTT acks and retrying", "err", re, "messages", len(msgs), "retry_in", wait)
		if retry.Sleep(ctx, wait) != nil {
			return fmt.Errorf("%w: %v", ErrStopped, re)
		}
	}
}

type metrics struct {
	messages       *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	records        prometheus.Counter
	produceSeconds prometheus.Histogram
	produceErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, pending *atomic.Int64) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_ingest_messages_total",
			Help: "MQTT messages handled by the collector, by result (accepted, rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_ingest_rejected_total",
			Help: "Device messages rejected to the dead-letter topic, by reason."}, []string{"reason"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_ingest_records_total",
			Help: "Normalised records written to the readings topic."}),
		produceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_ingest_kafka_produce_seconds",
			Help: "Latency of one synchronous Kafka batch write (acks=all).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		produceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_ingest_kafka_produce_errors_total",
			Help: "Failed Kafka batch writes (each is retried)."}),
	}
	for _, r := range schemas.AllReasons {
		m.rejected.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.rejected, m.records, m.produceSeconds, m.produceErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_ingest_undelivered",
				Help: "MQTT messages received but not yet acknowledged."}, func() float64 { return float64(pending.Load()) }))
	}
	return m
}
