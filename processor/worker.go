package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// worker processes one readings partition for one generation.
type worker struct {
	p         *Processor
	gen       *kafka.Generation
	partition int
	nparts    int
	logger    *slog.Logger
	states    map[string]*rules.State
	// dirty holds the stations whose state changed since the last snapshot.
	dirty map[string]struct{}
	// gone is done when the generation ended (a revoke): no further batch
	// is fetched and the pipeline steps are tried once, not retried.
	gone context.Context
	// committed is the offset last committed (the next to process after a
	// restart); processed the offset after the last evaluated record;
	// snapped the offset after the last record whose state is in the
	// changelog. Always committed <= snapped <= processed.
	committed, processed, snapped int64
	// unflushed counts the records evaluated since the last snapshot;
	// flushed is when that snapshot was taken; pending is a snapshot
	// taken and not yet written.
	unflushed int
	flushed   time.Time
	pending   *snapshot
	pipe      pipeline
	lane      *alertLane
	land      landing
}

// run restores state, then processes batches until hard (stop timeout,
// or the revoke grace after the generation ended) or soft (stop: finish
// the batch in hand) cancellation or the end of the generation (gone).
// Between batches it then takes the final snapshot and commits. It calls
// running once the state is restored. It returns nil when it was
// cancelled, else why it leaves the generation (the next owner of the
// partition replays from the commit).
func (w *worker) run(hard, soft context.Context, offset int64, running func()) error {
	if err := w.restore(hard); err != nil {
		return w.leave(hard, "state restore", err)
	}
	running()
	w.committed, w.processed, w.snapped = offset, offset, offset
	w.dirty, w.flushed = map[string]struct{}{}, time.Now()
	w.land = landing{from: -1, to: -1, odd: map[int64]flags{}}
	defer func() {
		// Whoever owns the partition next replays the waiting records from
		// the commit.
		w.p.gap.Add(-w.land.records())
		w.closeLandingReader()
	}()
	stopPipe := w.startPipeline(hard)
	defer stopPipe()
	stopLane := w.startAlertLane(hard)
	defer stopLane()
	r := w.reader()
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return w.leave(hard, fmt.Sprintf("set offset %d", offset), err)
	}
	tick := time.NewTicker(w.p.cfg.TickInterval)
	defer tick.Stop()
	for soft.Err() == nil && hard.Err() == nil && w.gone.Err() == nil {
		var ev evaluation
		w.fetch(hard, soft, r, &ev)
		if err := w.step(hard, r, &ev, tick.C); err != nil {
			return err
		}
	}
	if hard.Err() != nil {
		return nil
	}
	// A soft stop or a revoke between batches: every evaluated batch has
	// its alerts produced, so its state can be saved and committed.
	if err := w.flush(hard); err != nil {
		return w.leave(hard, "final snapshot and commit", err)
	}
	return nil
}

// step finishes one fetched and evaluated batch (possibly empty), lands
// waiting points, takes a snapshot and commits when due, and runs the
// time-driven rules when due.
func (w *worker) step(hard context.Context, r *kafka.Reader, ev *evaluation, tick <-chan time.Time) error {
	if err := w.lane.failed(); err != nil {
		return w.leave(hard, "alerts (replayed from the commit)", err)
	}
	if ev.pb != nil {
		if err := w.process(hard, ev); err != nil {
			return w.leave(hard, "batch (replayed from the commit)", err)
		}
		w.p.m.lag.WithLabelValues(strconv.Itoa(w.partition)).Set(float64(r.Lag()))
	}
	if w.land.open() {
		// The landing writes to the point sink itself: nothing in flight.
		if err := w.drain(hard); err != nil {
			return w.leave(hard, "points", err)
		}
		if err := w.landStep(hard); err != nil {
			return w.leave(hard, "landing", err)
		}
		if err := w.commit(hard); err != nil {
			return w.leave(hard, "commit", err)
		}
	}
	if w.flushDue(time.Now()) {
		if err := w.takeSnapshot(); err != nil {
			return w.leave(hard, "snapshot", err)
		}
	}
	if err := w.settle(hard, false); err != nil {
		return w.leave(hard, "snapshot and commit", err)
	}
	select {
	case <-tick:
		if err := w.tick(hard); err != nil {
			return w.leave(hard, "tick", err)
		}
	default:
	}
	return nil
}

// flushDue reports whether no snapshot waits, records were evaluated
// since the last one and SnapshotRecords of them or SnapshotInterval
// since it have passed.
func (w *worker) flushDue(now time.Time) bool {
	if w.pending != nil || (w.processed == w.covered() && len(w.dirty) == 0) {
		return false
	}
	return w.unflushed >= w.p.cfg.SnapshotRecords || now.Sub(w.flushed) >= w.p.cfg.SnapshotInterval
}

// covered is the offset the last snapshot taken covers (written or not).
func (w *worker) covered() int64 {
	if w.pending != nil {
		return w.pending.covers
	}
	return w.snapped
}

// flushWait is how long the fetch may wait for a first record before a
// snapshot is due or a waiting one may be written (at most limit).
func (w *worker) flushWait(now time.Time, limit time.Duration) time.Duration {
	switch {
	case w.pending != nil:
		return min(limit, 10*time.Millisecond)
	case w.processed == w.snapped && len(w.dirty) == 0:
		return limit
	}
	return min(limit, max(w.flushed.Add(w.p.cfg.SnapshotInterval).Sub(now), time.Millisecond))
}

// snapshot is the encoded state of the stations changed before covers,
// taken at once when due, written once the records before covers have
// their points stored (or in the landing).
type snapshot struct {
	msgs   []kafka.Message
	covers int64
	taken  time.Time
}

// takeSnapshot encodes the state of every station changed since the last
// snapshot: it covers every evaluated record (written once their alerts
// are produced and their points stored: settle).
func (w *worker) takeSnapshot() error {
	msgs, err := w.encodeStates(w.dirty, w.processed)
	if err != nil {
		return err
	}
	clear(w.dirty)
	w.pending = &snapshot{msgs: msgs, covers: w.processed, taken: time.Now()}
	w.unflushed, w.flushed = 0, time.Now()
	return nil
}

// settle retires the point batches already done (with wait, it waits for
// them), then, if no batch before the waiting snapshot is in flight any
// more, writes it to the changelog and commits. So the commit never runs
// ahead of the snapshot that covers it, and a snapshot never waits for
// points it does not cover; the evaluation never waits for either.
func (w *worker) settle(ctx context.Context, wait bool) error {
	if err := w.retireDone(ctx, wait); err != nil {
		return err
	}
	if wait {
		if err := w.lane.wait(ctx); err != nil {
			return err
		}
	}
	sn := w.pending
	if sn == nil {
		return nil
	}
	if from := w.pipe.firstInFlight(); from >= 0 && from < sn.covers {
		return nil // later: points of records it covers are in flight
	}
	if from := w.lane.oldest(); from >= 0 && from < sn.covers {
		return nil // later: alert events of records it covers are not produced yet
	}
	if err := w.writeStates(ctx, sn.msgs, sn.covers); err != nil {
		return err
	}
	w.snapped, w.pending = sn.covers, nil
	if err := w.commit(ctx); err != nil {
		return err
	}
	w.p.m.snapshotSeconds.Observe(time.Since(sn.taken).Seconds())
	return nil
}

// flush takes a snapshot now and waits until it is written and committed
// (a soft stop, a revoke, a tick that produced events).
func (w *worker) flush(ctx context.Context) error {
	if err := w.settle(ctx, true); err != nil { // an older one first
		return err
	}
	if err := w.takeSnapshot(); err != nil {
		return err
	}
	return w.settle(ctx, true)
}

// leave is run's result for a failed step: nil if hard was cancelled (the
// failure is the cancellation), else the error naming the step.
func (w *worker) leave(hard context.Context, step string, err error) error {
	if hard.Err() != nil {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}

// reader reads the worker's readings partition.
func (w *worker) reader() *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:   w.p.deps.Brokers,
		Dialer:    w.p.deps.Dialer,
		Topic:     w.p.deps.Topics.Readings,
		Partition: w.partition,
		MinBytes:  1,
		MaxBytes:  16 << 20,
		MaxWait:   200 * time.Millisecond,
	})
}

// fetch fetches and evaluates up to BatchSize messages into ev: it waits
// for the first at most TickInterval (so that ticks run on time when
// idle), until a snapshot is due, or until a stop or revoke, then at most
// BatchWait for more. A record's alert events go to the alert lane as it
// is evaluated (evaluate): they never wait for the batch.
func (w *worker) fetch(hard, soft context.Context, r *kafka.Reader, ev *evaluation) {
	cfg := w.p.cfg
	wait := w.flushWait(time.Now(), cfg.TickInterval)
	if w.land.open() {
		// Records wait to be landed: an idle partition must not hold that up.
		wait = min(wait, 100*time.Millisecond)
	}
	first, cancel := context.WithTimeout(hard, wait)
	stop, stopGone := context.AfterFunc(soft, cancel), context.AfterFunc(w.gone, cancel)
	m, err := r.FetchMessage(first)
	stop()
	stopGone()
	cancel()
	if err != nil {
		return
	}
	w.evaluate(ev, m)
	more, cancel2 := context.WithTimeout(hard, cfg.BatchWait)
	defer cancel2()
	defer context.AfterFunc(w.gone, cancel2)()
	for ev.records < cfg.BatchSize {
		m, err := r.FetchMessage(more)
		if err != nil {
			return
		}
		w.evaluate(ev, m)
	}
}

// evaluation is one batch, evaluated record by record as it is fetched.
type evaluation struct {
	pb       *pointBatch // nil until the first record
	events   []schemas.AlertEvent
	observed []seen // for the View, if there is one
	slab     []int  // the quality flags of the batch's readings
	records  int
	start    time.Time
}

// seen is an evaluated record and its quality flags.
type seen struct {
	rec     schemas.Record
	quality []int
}

// evaluate decodes one record, folds it into its station's state, hands
// the alert events it raised to the alert lane and adds its points to the
// batch.
func (w *worker) evaluate(ev *evaluation, m kafka.Message) {
	p := w.p
	if ev.pb == nil {
		ev.pb, ev.start = w.pipe.newBatch(m.Offset, m.Offset), time.Now()
	}
	pb := ev.pb
	pb.last = m.Offset
	ev.records++
	rec, err := decode(m)
	if err != nil {
		p.m.outcome.bad.Inc()
		w.logger.Error("skipping bad record", "err", err)
		return
	}
	var res rules.Result
	station := p.deps.Registry.Lookup(rec.Station)
	known := station != nil
	if !known {
		// Not in this processor's registry (collectors were updated
		// first): store the reading unevaluated rather than drop it.
		p.m.outcome.unknownStation.Inc()
	} else {
		res = p.deps.Engine.Apply(w.state(rec.Station), &rec)
		w.dirty[rec.Station] = struct{}{}
	}
	n := len(res.Quality)
	if cap(ev.slab)-len(ev.slab) < n {
		ev.slab = make([]int, 0, max(n, 512))
	}
	q := ev.slab[len(ev.slab) : len(ev.slab)+n : len(ev.slab)+n]
	ev.slab = ev.slab[:len(ev.slab)+n]
	for i, x := range res.Quality {
		q[i] = int(x)
	}
	if !plain(&rec, q, res.Late) {
		pb.odd[m.Offset] = flags{q, res.Late}
	}
	tags := lineproto.TagsOfStation(station, rec.Station)
	if pb.lines, err = lineproto.AppendReading(pb.lines, tags, &rec, q, res.Late); err != nil {
		w.logger.Warn("dropped non-finite value", "station", rec.Station, "seq", rec.Seq)
	}
	for _, n := range res.Notices {
		line := lineproto.AppendNotice(nil, tags, n.Kind, n.Detail, n.At)
		pb.lines, pb.extra = append(pb.lines, line...), append(pb.extra, line...)
		p.m.notices.Inc()
		w.logger.Warn("operator notice", "station", n.Station, "kind", n.Kind, "detail", n.Detail)
	}
	switch {
	case !known:
	case res.Duplicate:
		p.m.outcome.duplicate.Inc()
	case res.Late:
		p.m.outcome.late.Inc()
	default:
		p.m.outcome.ok.Inc()
	}
	if len(res.Events) > 0 {
		w.lane.raise(res.Events, m.Offset)
		ev.events = append(ev.events, res.Events...)
	}
	if p.deps.View != nil {
		ev.observed = append(ev.observed, seen{rec, q})
	}
}

// process finishes an evaluated batch, whose alert events are on the
// alert lane already: it hands its points (the readings', the alerts' and
// the notices') to the pipeline. The state and the commit follow at the
// next snapshot, written once the lane produced the events it covers
// (settle).
func (w *worker) process(ctx context.Context, ev *evaluation) error {
	p, pb := w.p, ev.pb
	for i := range ev.events {
		line := lineproto.AppendAlert(nil, &ev.events[i])
		pb.lines, pb.extra = append(pb.lines, line...), append(pb.extra, line...)
	}
	w.processed = pb.last + 1
	w.unflushed += ev.records
	if err := w.submit(ctx, pb); err != nil {
		return err
	}
	for i := range ev.observed {
		p.deps.View.observe(&ev.observed[i].rec, ev.observed[i].quality)
	}
	p.m.batchSeconds.Observe(time.Since(ev.start).Seconds())
	return nil
}

// commit commits the offset up to which every record is covered by the
// last snapshot and has its points stored: snapped, or the first record
// whose points are in flight or wait in the landing. It never moves the
// commit back, and never past the snapshot.
func (w *worker) commit(ctx context.Context) error {
	next := w.snapped
	if w.land.from >= 0 {
		next = min(next, w.land.from)
	}
	if from := w.pipe.firstInFlight(); from >= 0 {
		next = min(next, from)
	}
	if next <= w.committed {
		return nil
	}
	if err := w.retry(ctx, "commit", next-1, func(context.Context) error {
		return w.gen.CommitOffsets(map[string]map[int]int64{w.p.deps.Topics.Readings: {w.partition: next}})
	}); err != nil {
		return err
	}
	w.committed = next
	return nil
}

// tick runs the time-driven rules for every station of the partition. When
// they produce events, it takes a snapshot at once: a later tick, on a
// later clock, would not produce the same event again.
func (w *worker) tick(ctx context.Context) error {
	now := w.p.deps.Now()
	var events []schemas.AlertEvent
	for id, st := range w.states {
		if ev := w.p.deps.Engine.Tick(st, now); len(ev) > 0 {
			events = append(events, ev...)
			w.dirty[id] = struct{}{}
		}
	}
	if len(events) == 0 {
		return nil
	}
	// After the events of the records before (the lane keeps offset order).
	if err := w.lane.wait(ctx); err != nil {
		return err
	}
	if err := w.emit(ctx, events, -1); err != nil {
		return err
	}
	pb := w.pipe.newBatch(-1, -1)
	for i := range events {
		pb.lines = lineproto.AppendAlert(pb.lines, &events[i])
	}
	if err := w.submit(ctx, pb); err != nil {
		return err
	}
	return w.flush(ctx)
}

// emit produces alert events keyed by station.
func (w *worker) emit(ctx context.Context, events []schemas.AlertEvent, offset int64) error {
	if len(events) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(events))
	for i := range events {
		b, err := events[i].AppendJSON(make([]byte, 0, 512)) // json.Marshal's bytes
		if err != nil {
			return fmt.Errorf("processor: encode alert %s: %w", events[i].EventID, err)
		}
		msgs = append(msgs, kafka.Message{Topic: w.p.deps.Topics.Alerts, Key: []byte(events[i].Station), Value: b,
			Headers: []kafka.Header{{Key: "event_id", Value: []byte(events[i].EventID)}}})
	}
	if err := w.retry(ctx, "alerts", offset, func(ctx context.Context) error { return w.p.deps.AlertWriter.WriteMessages(ctx, msgs...) }); err != nil {
		return err
	}
	// One line per event at debug only: a storm emits thousands a second,
	// and the events are in Kafka and InfluxDB (at info, this line was 5%
	// of the processor's CPU in make bench's drain).
	debug := w.logger.Enabled(ctx, slog.LevelDebug)
	for _, e := range events {
		w.p.m.events.WithLabelValues(string(e.Kind)).Inc()
		if debug {
			w.logger.Debug("alert event", "id", e.ID, "kind", e.Kind, "station", e.Station, "rule", e.Rule, "level", e.Level, "value", e.Value)
		}
		if w.p.deps.OnEvent != nil {
			w.p.deps.OnEvent(e)
		}
	}
	return nil
}

// encodeStates encodes the states of dirty for the changelog, on this
// partition. Each message carries the header "covers": the readings
// offset up to which (exclusive) the state has folded every record.
func (w *worker) encodeStates(dirty map[string]struct{}, covers int64) ([]kafka.Message, error) {
	hdr := []kafka.Header{{Key: CoversHeader, Value: strconv.AppendInt(nil, covers, 10)}}
	msgs := make([]kafka.Message, 0, len(dirty))
	for id := range dirty {
		b, err := w.states[id].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("processor: encode state station %s partition %d: %w", id, w.partition, err)
		}
		msgs = append(msgs, kafka.Message{Topic: w.p.deps.Topics.State, Key: []byte(id), Value: b, Headers: hdr})
	}
	return msgs, nil
}

// writeStates writes encoded states to the changelog.
func (w *worker) writeStates(ctx context.Context, msgs []kafka.Message, covers int64) error {
	if len(msgs) == 0 {
		return nil
	}
	return w.retry(ctx, "changelog", covers-1, func(ctx context.Context) error { return w.p.deps.Writer.WriteMessages(ctx, msgs...) })
}

// retry runs step until it succeeds, ctx ends or the generation ends (once
// it ended, one attempt); the
// error is a *StepError naming the step, partition, offset and attempt.
func (w *worker) retry(ctx context.Context, step string, offset int64, fn func(context.Context) error) error {
	var last *StepError
	err := retry.Do(ctx, retry.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second,
		OnRetry: func(_ int, _ error, wait time.Duration) {
			w.p.m.retries.WithLabelValues(step).Inc()
			w.logger.Warn("pipeline step failed; retrying", "err", last, "retry_in", wait)
		}}, func(attempt int) error {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		last = &StepError{Step: step, Topic: w.p.deps.Topics.Readings, Partition: w.partition, Offset: offset, Attempt: attempt, Err: err}
		if errors.Is(err, kafka.ErrGenerationEnded) || w.gone.Err() != nil {
			// After a revoke each step is tried once: the next owner
			// replays what this one could not finish.
			return retry.Permanent(last)
		}
		return last
	})
	if err != nil {
		return last
	}
	return nil
}

func (w *worker) state(id string) *rules.State {
	st := w.states[id]
	if st == nil {
		st = w.p.deps.Engine.NewState(id)
		w.states[id] = st
	}
	return st
}

// restore loads this partition's station states from the changelog, then
// adds a fresh state for every registry station of the partition, so the
// offline rule also watches stations that have never reported.
func (w *worker) restore(ctx context.Context) error {
	p := w.p
	w.states = map[string]*rules.State{}
	conn, err := kafkax.DialLeader(ctx, p.deps.Dialer, p.deps.Brokers, p.deps.Topics.State, w.partition)
	if err != nil {
		return fmt.Errorf("processor: changelog %s partition %d: dial leader: %w", w.p.deps.Topics.State, w.partition, err)
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil {
		return fmt.Errorf("processor: changelog %s partition %d: offsets: %w", w.p.deps.Topics.State, w.partition, err)
	}
	n := 0
	if last > first {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: p.deps.Brokers, Dialer: p.deps.Dialer, Topic: w.p.deps.Topics.State,
			Partition: w.partition, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		if err := r.SetOffset(first); err != nil {
			return err
		}
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return fmt.Errorf("processor: changelog %s partition %d: read: %w", w.p.deps.Topics.State, w.partition, err)
			}
			id := string(m.Key)
			if len(m.Value) == 0 {
				delete(w.states, id)
			} else {
				st := p.deps.Engine.NewState(id)
				if err := st.UnmarshalBinary(m.Value); err != nil {
					w.logger.Error("discarding unreadable state", "station", id, "offset", m.Offset, "err", err)
				} else {
					w.states[id] = st
				}
			}
			if m.Offset >= last-1 {
				break
			}
		}
		n = len(w.states)
	}
	for _, id := range p.deps.Registry.IDs() {
		if kafkax.PartitionFor(id, w.nparts) == w.partition {
			w.state(id)
		}
	}
	p.m.restored.Add(float64(n))
	w.logger.Info("state restored", "stations_restored", n, "stations_owned", len(w.states), "changelog_end", last)
	return nil
}
