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

	"github.com/resilience-project/resilience/internal/kafkax"
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
	cfg    Config
	deps   Deps
	dec    schemas.Decoder
	logger *slog.Logger
	m      *metrics
	limit  *limiter
	in     chan held     // messages within their station's share, in arrival order
	excess chan held     // messages beyond it: deferred (written after the main lane) or dead-lettered as rate_limited
	slots  chan struct{} // one per unacknowledged message: caps them at MaxUndelivered
	// excessSlots caps the excess lane at half of MaxUndelivered, so that
	// the flood's dead letters never take every slot.
	excessSlots chan struct{}
	client      atomic.Pointer[Client] // set while Run is connected
	pending     atomic.Int64
}

// held is a received message and the lane it is in.
type held struct {
	m        Message
	share    *share // its station's share, nil when dead-lettered as rate_limited
	deferred bool   // in the excess lane, but written like any other
	station  string
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
		limit:  newLimiter(cfg, deps.Registry, deps.Now),
		in:     make(chan held, cfg.MaxUndelivered),
		excess: make(chan held, cfg.MaxUndelivered),
		slots:  make(chan struct{}, cfg.MaxUndelivered),
		// At least one place: with MaxUndelivered 1 the lanes take turns.
		excessSlots: make(chan struct{}, max(1, cfg.MaxUndelivered/2)),
	}
	c.m = newMetrics(reg, &c.pending)
	return c, nil
}

// ErrNotRunning is what Ready returns before Run connected and after it
// returned.
var ErrNotRunning = errors.New("ingest: collector not running")

// Ready is nil while the collector runs, its MQTT connection is up and the
// broker granted every subscription; otherwise it says why not (not
// running, connecting, connection lost, subscription refused). It follows
// the real connection: false on a lost connection, true again only after
// the re-subscription succeeded.
func (c *Collector) Ready() error {
	cl := c.client.Load()
	if cl == nil {
		return ErrNotRunning
	}
	if err := (*cl).Status(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// Run connects, subscribes and forwards until ctx is done. On stop it
// finishes the batch in hand (soft stop, bounded by 10 s), then disconnects;
// messages not yet written stay unacknowledged with the broker.
func (c *Collector) Run(ctx context.Context) error {
	client, err := c.deps.NewClient(c.cfg, c.logger)
	if err != nil {
		return err
	}
	// handle runs on the MQTT client's dispatch goroutine, one message at a
	// time in arrival order. A message within its station's share goes to
	// the main lane; one beyond it (rate or pending cap) to the excess lane,
	// where it is dead-lettered as rate_limited without decoding. handle
	// blocks only while MaxUndelivered messages wait unacknowledged (or
	// half of them in the excess lane): that is the backpressure. A slot is
	// taken per message and given back only when the message is
	// acknowledged; the channel alone would admit MaxUndelivered more once a
	// batch is taken off it.
	handle := func(m Message) { c.admit(ctx, m) }
	if err := client.Connect(ctx, c.cfg.Filters(), handle); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	c.client.Store(&client)
	defer func() {
		c.client.Store(nil)
		client.Disconnect()
	}()
	c.logger.Info("collector running", "broker", c.cfg.URL, "filters", c.cfg.Filters(), "max_undelivered", c.cfg.MaxUndelivered)

	batch := make([]held, 0, c.cfg.BatchSize)
	for {
		batch = batch[:0]
		if h, ok := c.take(); ok {
			batch = append(batch, h)
		} else {
			select {
			case <-ctx.Done():
				return nil
			case h := <-c.in:
				batch = append(batch, h)
			case h := <-c.excess:
				batch = append(batch, h)
			}
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

// admit puts m in its lane (see Run), waiting for slots.
func (c *Collector) admit(ctx context.Context, m Message) {
	station, _ := schemas.ParseTopic(m.Topic())
	sh, v, logNow, count := c.limit.admit(station)
	h, lane := held{m: m, station: station}, c.excess
	switch v {
	case within:
		h.share, lane = sh, c.in
	case deferred:
		h.share, h.deferred = sh, true
	}
	if logNow {
		what := "station over its rate; excess queued behind the other stations"
		if v == over {
			what = "station over its share; excess dead-lettered as rate_limited"
		}
		c.logger.Warn(what, "station", station, "mqtt_topic", m.Topic(),
			"limited_since_last_log", count, "station_rate", c.cfg.StationRate, "station_burst", c.cfg.StationBurst,
			"station_max_undelivered", c.cfg.stationMaxUndelivered())
	}
	if lane == c.excess {
		select {
		case c.excessSlots <- struct{}{}:
		case <-ctx.Done():
			c.unshare(h)
			return
		}
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		c.unhold(h)
		return
	}
	c.pending.Add(1)
	select {
	case lane <- h: // never waits: each lane has a place for every slot
	case <-ctx.Done():
		c.pending.Add(-1)
		<-c.slots
		c.unhold(h)
	}
}

// unhold gives back h's lane places: its station share's pending place and,
// in the excess lane, the excess slot.
func (c *Collector) unhold(h held) {
	c.unshare(h)
	if h.share == nil || h.deferred {
		<-c.excessSlots
	}
}

// unshare gives back h's station share's pending place, if it took one.
func (c *Collector) unshare(h held) {
	if h.share != nil {
		c.limit.release(h.share, h.deferred)
	}
}

// take returns a waiting message without blocking, the main lane first.
func (c *Collector) take() (held, bool) {
	select {
	case h := <-c.in:
		return h, true
	default:
	}
	select {
	case h := <-c.excess:
		return h, true
	default:
		return held{}, false
	}
}

// fill adds messages to batch until it is full or BatchWait has passed,
// the main lane first, so a station within its share is never queued
// behind another's excess.
func (c *Collector) fill(ctx context.Context, batch []held) []held {
	var timer <-chan time.Time
	if c.cfg.BatchWait > 0 {
		t := time.NewTimer(c.cfg.BatchWait)
		defer t.Stop()
		timer = t.C
	}
	for len(batch) < c.cfg.BatchSize {
		if h, ok := c.take(); ok {
			batch = append(batch, h)
			continue
		}
		if timer == nil {
			return batch
		}
		select {
		case h := <-c.in:
			batch = append(batch, h)
		case h := <-c.excess:
			batch = append(batch, h)
		case <-timer:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// outMsg is one Kafka message of a batch and where it came from.
type outMsg struct {
	km  kafka.Message
	src int                 // index of the MQTT message in the batch
	dl  *schemas.DeadLetter // non-nil: km is this dead letter
}

// errNotSent marks the messages a write did not send because another one
// failed the writer's size check first; they are sent again at once.
var errNotSent = errors.New("not sent: another message of the write was too large")

// forward decodes a batch, writes records and dead letters to Kafka and then
// acknowledges every message. Retryable failures are retried until success
// or ctx ends; permanent refusals are dead-lettered or dropped, counted.
func (c *Collector) forward(ctx context.Context, batch []held) error {
	now := c.deps.Now()
	msgs := make([]outMsg, 0, len(batch))
	// The batch's keys and values share one buffer (a new one per batch:
	// Kafka holds the messages until written).
	arena := make([]byte, 0, 256*len(batch))
	var rejected, accepted int
	for i, h := range batch {
		m := h.m
		if h.share == nil {
			c.m.rejected.WithLabelValues(string(schemas.ReasonRateLimited)).Inc()
			rejected++
			msgs = append(msgs, c.deadLetter(i, m, schemas.ReasonRateLimited,
				fmt.Sprintf("station %q over its share (station_rate %g/s, station_burst %d, station_max_undelivered %d)",
					h.station, c.cfg.StationRate, c.cfg.StationBurst, c.cfg.stationMaxUndelivered()), now))
			continue
		}
		recs, err := c.dec.Decode(m.Topic(), m.Payload(), now)
		if err != nil {
			reason := schemas.ReasonOf(err)
			if reason == "" {
				reason = schemas.ReasonBadJSON
			}
			c.m.rejected.WithLabelValues(string(reason)).Inc()
			rejected++
			msgs = append(msgs, c.deadLetter(i, m, reason, err.Error(), now))
			continue
		}
		accepted++
		for j := range recs {
			start := len(arena)
			arena = append(arena, recs[j].Station...)
			key := len(arena)
			if arena, err = recs[j].AppendJSON(arena); err != nil { // cannot happen: records are finite and well-formed
				return fmt.Errorf("ingest: encode record station %s seq %d: %w", recs[j].Station, recs[j].Seq, err)
			}
			msgs = append(msgs, outMsg{src: i, km: kafka.Message{Topic: c.deps.Topics.Readings,
				Key: arena[start:key:key], Value: arena[key:len(arena):len(arena)], Time: now}})
		}
	}
	records, err := c.write(ctx, batch, msgs, now)
	if err != nil {
		return err
	}
	for _, h := range batch {
		h.m.Ack()
	}
	c.pending.Add(-int64(len(batch)))
	for _, h := range batch {
		<-c.slots
		c.unhold(h)
	}
	c.m.messages.WithLabelValues("accepted").Add(float64(accepted))
	c.m.messages.WithLabelValues("rejected").Add(float64(rejected))
	c.m.records.Add(float64(records))
	return nil
}

// deadLetter builds the dead letter of batch message i (payload capped at
// schemas.MaxDeadLetterPayload), keyed by the topic's station.
func (c *Collector) deadLetter(i int, m Message, reason schemas.Reason, detail string, now time.Time) outMsg {
	dl := schemas.NewDeadLetter(reason, detail, m.Topic(), m.Payload(), now, c.cfg.ClientID)
	station, _ := schemas.ParseTopic(m.Topic())
	return c.encodeDeadLetter(i, station, &dl, now)
}

func (c *Collector) encodeDeadLetter(i int, station string, dl *schemas.DeadLetter, now time.Time) outMsg {
	b, _ := json.Marshal(dl) // cannot fail: strings, bytes, ints and a time
	return outMsg{src: i, dl: dl, km: kafka.Message{Topic: c.deps.Topics.DLQ, Key: []byte(station), Value: b, Time: now,
		Headers: []kafka.Header{{Key: "reason", Value: []byte(dl.Reason)}}}}
}

// write produces msgs and returns how many records (not dead letters)
// Kafka took. Messages whose error is retryable are written again with
// backoff until they succeed or ctx ends (the MQTT acks wait meanwhile);
// messages refused permanently are settled by refuse and never retried.
// Only failed messages are rewritten: kafka-go reports per message
// (kafka.WriteErrors), and duplicates of a partial success are avoided.
func (c *Collector) write(ctx context.Context, batch []held, msgs []outMsg, now time.Time) (int, error) {
	records := 0
	settled := make(map[int]bool) // batch messages already dead-lettered for a refusal
	for attempt := 1; len(msgs) > 0; {
		errs := c.produce(ctx, msgs)
		var again, suspects []outMsg
		var suspectErrs []error
		var firstRetryable error
		for i, o := range msgs {
			switch err := c.classify(o, attempt, errs[i]); {
			case err == nil:
				if o.dl == nil {
					records++
				}
			case IsPermanent(err):
				suspects, suspectErrs = append(suspects, o), append(suspectErrs, err)
			default:
				again = append(again, o)
				if firstRetryable == nil && !errors.Is(err, errNotSent) {
					firstRetryable = err
				}
			}
		}
		if ctx.Err() != nil && (len(again) > 0 || len(suspects) > 0) {
			return records, fmt.Errorf("%w: %d messages unwritten", ErrStopped, len(again)+len(suspects))
		}
		// A broker refuses a whole partition batch for one bad record: with
		// several suspects, write each alone to find the offenders.
		var refused []outMsg
		var refusals []error
		if len(suspects) == 1 {
			refused, refusals = suspects, suspectErrs
		} else {
			for _, s := range suspects {
				switch err := c.classify(s, attempt, c.produce(ctx, []outMsg{s})[0]); {
				case err == nil:
					if s.dl == nil {
						records++
					}
				case IsPermanent(err):
					refused, refusals = append(refused, s), append(refusals, err)
				default:
					again = append(again, s)
					if firstRetryable == nil {
						firstRetryable = err
					}
				}
			}
		}
		next := again
		for i, o := range refused {
			if r, ok := c.refuse(batch, o, refusals[i], settled, now); ok {
				next = append(next, r)
			}
		}
		msgs = next
		if firstRetryable == nil {
			continue // only replacements or unsent messages: no reason to wait
		}
		wait := retry.Backoff(attempt, 100*time.Millisecond, 5*time.Second)
		c.logger.Warn("kafka write failed; holding MQTT acks and retrying", "err", firstRetryable, "messages", len(again), "retry_in", wait)
		if retry.Sleep(ctx, wait) != nil {
			return records, fmt.Errorf("%w: %v", ErrStopped, firstRetryable)
		}
		attempt++
	}
	return records, nil
}

// sameBytes reports whether a and b are the same slice (not just equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// produce writes msgs in one call and returns one error per message (all
// nil on success).
func (c *Collector) produce(ctx context.Context, msgs []outMsg) []error {
	kms := make([]kafka.Message, len(msgs))
	for i := range msgs {
		kms[i] = msgs[i].km
	}
	start := time.Now()
	err := c.deps.Writer.WriteMessages(ctx, kms...)
	c.m.produceSeconds.Observe(time.Since(start).Seconds())
	errs := make([]error, len(msgs))
	if err == nil {
		return errs
	}
	c.m.produceErrors.Inc()
	var werr kafka.WriteErrors
	var tooLarge kafka.MessageTooLargeError
	switch {
	case errors.As(err, &werr) && len(werr) == len(msgs):
		copy(errs, werr)
		return errs
	case errors.As(err, &tooLarge):
		// The writer's own size check, before anything was sent: it names
		// the message; the others were not sent.
		for i := range kms {
			if sameBytes(kms[i].Value, tooLarge.Message.Value) && kms[i].Topic == tooLarge.Message.Topic {
				for j := range errs {
					errs[j] = errNotSent
				}
				errs[i] = err
				return errs
			}
		}
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// classify wraps the producer error of one message: nil, *PermanentError
// or *RetryableError.
func (c *Collector) classify(o outMsg, attempt int, err error) error {
	if err == nil {
		return nil
	}
	if reason, ok := kafkax.PermanentReason(err); ok {
		return &PermanentError{Op: "produce", Topic: o.km.Topic, Station: string(o.km.Key), Attempt: attempt, Reason: reason, Err: err}
	}
	return &RetryableError{Op: "produce", Topic: o.km.Topic, Station: string(o.km.Key), Attempt: attempt, Err: err}
}

// refuse settles a message Kafka refused permanently and returns what to
// write instead, if anything: a record becomes a dead letter of its MQTT
// message (reason producer_rejected; one per MQTT message), a dead letter is
// written again without its payload (size and SHA-256 kept), and a dead
// letter without payload that is refused too is dropped. Each is counted.
func (c *Collector) refuse(batch []held, o outMsg, err error, settled map[int]bool, now time.Time) (outMsg, bool) {
	var pe *PermanentError
	errors.As(err, &pe)
	c.m.refused.WithLabelValues(pe.Reason).Inc()
	m := batch[o.src].m
	switch {
	case o.dl == nil:
		if settled[o.src] {
			c.logger.Warn("kafka refused a record; its message is already dead-lettered", "err", err)
			return outMsg{}, false
		}
		settled[o.src] = true
		c.logger.Warn("kafka refused a record; dead-lettering its message", "err", err, "mqtt_topic", m.Topic())
		c.m.rejected.WithLabelValues(string(schemas.ReasonProducerRejected)).Inc()
		return c.deadLetter(o.src, m, schemas.ReasonProducerRejected, err.Error(), now), true
	case o.dl.Payload != nil:
		c.logger.Warn("kafka refused a dead letter; writing it without the payload", "err", err, "mqtt_topic", m.Topic(), "payload_sha256", o.dl.PayloadSHA256)
		dl := *o.dl
		dl.Payload, dl.PayloadTruncated = nil, dl.PayloadSize > 0
		return c.encodeDeadLetter(o.src, string(o.km.Key), &dl, now), true
	default:
		c.logger.Error("kafka refused a dead letter without payload; message dropped", "err", err, "mqtt_topic", m.Topic(),
			"reason", o.dl.Reason, "payload_size", o.dl.PayloadSize, "payload_sha256", o.dl.PayloadSHA256)
		c.m.dropped.WithLabelValues(pe.Reason).Inc()
		return outMsg{}, false
	}
}

type metrics struct {
	messages       *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	records        prometheus.Counter
	produceSeconds prometheus.Histogram
	produceErrors  prometheus.Counter
	refused        *prometheus.CounterVec
	dropped        *prometheus.CounterVec
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
			Help: "Failed Kafka write calls (retryable failures are retried, permanent refusals settled)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_ingest_kafka_refused_total",
			Help: "Kafka messages (records or dead letters) refused permanently, by reason; never retried."}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_ingest_dropped_total",
			Help: "MQTT messages acknowledged without a trace in Kafka (even their payload-less dead letter was refused), by refusal reason; each is logged."}, []string{"reason"}),
	}
	for _, r := range kafkax.RefusalReasons() {
		m.refused.WithLabelValues(r)
		m.dropped.WithLabelValues(r)
	}
	for _, r := range schemas.DeadLetterReasons() {
		m.rejected.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.rejected, m.records, m.produceSeconds, m.produceErrors, m.refused, m.dropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_ingest_undelivered",
				Help: "MQTT messages received but not yet acknowledged."}, func() float64 { return float64(pending.Load()) }))
	}
	return m
}
