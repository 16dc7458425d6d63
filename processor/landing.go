package processor

import (
	"context"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/schemas"
)

// landing tracks, for one partition, the records that were processed
// (rules, alerts, state) but whose points the point sink has not stored
// yet: the offsets [from, to]. The commit stays at from until they are
// stored; land re-reads them from Kafka with a second reader and writes
// their points again.
type landing struct {
	from, to int64 // from < 0: no record waits
	// odd holds the quality flags of the records whose flags are not
	// "every reading passed, not late" (the common case is not stored).
	odd map[int64]flags
	// extra holds the alert and notice lines of the waiting batches (and of
	// ticks), which cannot be rebuilt from the readings.
	extra []byte
	// pending holds encoded points of [from, pendingTo] that the sink has
	// not accepted yet (read from Kafka once, offered until accepted).
	pending   []byte
	pendingTo int64
	reader    *kafka.Reader
	readPos   int64 // the offset reader returns next
	attempt   int
	next      time.Time // no landing attempt before this
}

type flags struct {
	quality []int
	late    bool
}

// landChunk is the most records one landing step reads and writes.
const landChunk = 20000

// landChunkBytes bounds the line protocol of one landing step.
const landChunkBytes = 4 << 20

func (l *landing) open() bool { return l.from >= 0 || len(l.extra) > 0 }

// records is how many records wait.
func (l *landing) records() int64 {
	if l.from < 0 {
		return 0
	}
	return l.to - l.from + 1
}

// plain reports whether flags are the common case that odd does not store.
func plain(rec *schemas.Record, q []int, late bool) bool {
	if late || len(q) != len(rec.Readings) {
		return false
	}
	for _, x := range q {
		if x != 1 {
			return false
		}
	}
	return true
}

// deferPoints adds the processed records [from, last] of one batch to the
// landing (their points were not stored), with their flags and the
// batch's other lines.
func (w *worker) deferPoints(from, last int64, odd map[int64]flags, extra []byte) {
	l := &w.land
	before := l.records()
	if l.from < 0 {
		l.from = from
	}
	l.to = last
	for off, f := range odd {
		l.odd[off] = f
	}
	l.extra = append(l.extra, extra...)
	w.p.gap.Add(l.records() - before)
}

// recordJSON are the options decode reads a record with: the JSON v2
// decoder (3 allocations per record where encoding/json made 11) with
// encoding/json's semantics (names matched case insensitively, the last of
// duplicate names wins, invalid UTF-8 accepted, times parsed by time.Time's
// own UnmarshalJSON), so that no record processed before is now skipped as
// bad or read differently. FuzzDecode holds it to that.
var recordJSON = jsonv1.DefaultOptionsV1()

// decode parses a readings message; a bad record gives an error wrapping
// ErrBadRecord.
func decode(m kafka.Message) (schemas.Record, error) {
	var rec schemas.Record
	if !fastRecord(m.Value, &rec) {
		// Not the collectors' exact form: the general decoder.
		rec = schemas.Record{}
		if err := jsonv2.Unmarshal(m.Value, &rec, recordJSON); err != nil {
			return rec, fmt.Errorf("%w: offset %d: %v", ErrBadRecord, m.Offset, err)
		}
	}
	if rec.V != schemas.RecordVersion || !schemas.ValidStationID(rec.Station) {
		return rec, fmt.Errorf("%w: offset %d: version %d station %q", ErrBadRecord, m.Offset, rec.V, rec.Station)
	}
	return rec, nil
}

// landStep makes one attempt to store waiting points: first the extra
// lines, then up to landChunk records re-read from Kafka. It returns an
// error only when ctx ends; a refusing sink just delays the next attempt.
func (w *worker) landStep(ctx context.Context) error {
	l := &w.land
	if !l.open() || time.Now().Before(l.next) {
		return nil
	}
	if len(l.extra) > 0 {
		if err := w.p.deps.Points.Write(ctx, l.extra); err != nil {
			return w.landFailed(ctx, err)
		}
		l.extra = l.extra[:0]
	}
	if l.from < 0 {
		l.attempt = 0
		return nil
	}
	if len(l.pending) == 0 {
		if err := w.readPending(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			w.logger.Warn("re-reading records whose points wait failed; retrying", "from", l.from, "to", l.to, "err", err)
			return w.landFailed(ctx, err)
		}
	}
	if len(l.pending) > 0 {
		if err := w.p.deps.Points.Write(ctx, l.pending); err != nil {
			return w.landFailed(ctx, err)
		}
	}
	landed := l.pendingTo - l.from + 1
	for off := range l.odd {
		if off <= l.pendingTo {
			delete(l.odd, off)
		}
	}
	l.pending = l.pending[:0]
	l.attempt = 0
	if l.pendingTo >= l.to {
		w.p.gap.Add(-l.records())
		l.from, l.to = -1, -1
		w.closeLandingReader()
		w.logger.Info("points of the waiting records stored; commit advances")
	} else {
		l.from = l.pendingTo + 1
		w.p.gap.Add(-landed)
	}
	return nil
}

// landFailed schedules the next landing attempt with backoff.
func (w *worker) landFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l := &w.land
	l.attempt++
	wait := retry.Backoff(l.attempt, 200*time.Millisecond, 5*time.Second)
	l.next = time.Now().Add(wait)
	if l.attempt == 1 || l.attempt%20 == 0 {
		w.logger.Warn("point sink still refusing; alerts and state go on, the commit waits",
			"topic", w.p.deps.Topics.Readings, "waiting_records", l.records(), "attempt", l.attempt, "retry_in", wait, "err", err)
	}
	return nil
}

// readPending re-reads up to landChunk records from l.from and encodes
// their points into l.pending.
func (w *worker) readPending(ctx context.Context) error {
	l := &w.land
	p := w.p
	if l.reader == nil || l.readPos != l.from {
		w.closeLandingReader()
		l.reader = kafka.NewReader(kafka.ReaderConfig{Brokers: p.deps.Brokers, Dialer: p.deps.Dialer,
			Topic: p.deps.Topics.Readings, Partition: w.partition, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
		if err := l.reader.SetOffset(l.from); err != nil {
			return err
		}
		l.readPos = l.from
	}
	end := min(l.to, l.from+landChunk-1)
	buf := l.pending[:0]
	last := l.from - 1
	for last < end && len(buf) < landChunkBytes {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := l.reader.FetchMessage(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("processor: re-read topic %s partition %d offset %d: %w", p.deps.Topics.Readings, w.partition, l.readPos, err)
		}
		l.readPos = m.Offset + 1
		if m.Offset < l.from {
			continue
		}
		last = m.Offset
		rec, err := decode(m)
		if err != nil {
			continue // skipped (and counted) when it was processed
		}
		q, late := allPass(len(rec.Readings)), false
		if f, ok := l.odd[m.Offset]; ok {
			q, late = f.quality, f.late
		}
		buf, _ = lineproto.AppendReading(buf, lineproto.TagsOf(p.deps.Registry, rec.Station), &rec, q, late)
	}
	l.pending, l.pendingTo = buf, last
	return nil
}

func allPass(n int) []int {
	q := make([]int, n)
	for i := range q {
		q[i] = 1
	}
	return q
}

func (w *worker) closeLandingReader() {
	if w.land.reader != nil {
		w.land.reader.Close()
		w.land.reader = nil
	}
}
