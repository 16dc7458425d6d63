package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// measuredRule is the rule whose fired events are timed.
const measuredRule = "level:water_level"

// alertWatch reads the alerts topic from the end offsets it found at start.
type alertWatch struct {
	mu      sync.Mutex
	seen    map[string]bool   // event ids (the processor may emit an event twice)
	fired   map[key]time.Time // measured rule's fired events: causing reading -> receive time
	kinds   map[string]int    // rule/kind -> events
	errs    []error
	readers []*kafka.Reader
}

// watchAlerts starts one reader per partition of topic at its end offset.
// Reading stops when ctx is done; call close afterwards.
func watchAlerts(ctx context.Context, brokers []string, topic string) (*alertWatch, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("kafka %s: %w", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("kafka topic %s: partitions: %w", topic, err)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("kafka topic %s: no partitions", topic)
	}
	w := &alertWatch{seen: map[string]bool{}, fired: map[key]time.Time{}, kinds: map[string]int{}}
	for _, p := range parts {
		lc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("kafka topic %s partition %d: leader: %w", topic, p.ID, err)
		}
		end, err := lc.ReadLastOffset()
		lc.Close()
		if err != nil {
			w.close()
			return nil, fmt.Errorf("kafka topic %s partition %d: end offset: %w", topic, p.ID, err)
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(end); err != nil {
			r.Close()
			w.close()
			return nil, fmt.Errorf("kafka topic %s partition %d: offset %d: %w", topic, p.ID, end, err)
		}
		w.readers = append(w.readers, r)
	}
	for i, r := range w.readers {
		go w.read(ctx, parts[i].ID, r)
	}
	return w, nil
}

func (w *alertWatch) read(ctx context.Context, part int, r *kafka.Reader) {
	for {
		m, err := r.FetchMessage(ctx) // a partition reader: no group, nothing to commit
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				w.mu.Lock()
				w.errs = append(w.errs, fmt.Errorf("alerts partition %d: %w", part, err))
				w.mu.Unlock()
			}
			return
		}
		var ev schemas.AlertEvent
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, fmt.Errorf("alerts partition %d offset %d: %w", part, m.Offset, err))
			w.mu.Unlock()
			continue
		}
		w.mu.Lock()
		if !w.seen[ev.EventID] {
			w.seen[ev.EventID] = true
			w.kinds[ev.Rule+" "+string(ev.Kind)]++
			if ev.Kind == schemas.AlertFired && ev.Rule == measuredRule && len(ev.Readings) > 0 {
				k := key{ev.Station, ev.Readings[len(ev.Readings)-1].Seq}
				if _, dup := w.fired[k]; !dup {
					w.fired[k] = now
				}
			}
		}
		w.mu.Unlock()
	}
}

// firedCount is the number of measured fired events seen so far.
func (w *alertWatch) firedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.fired)
}

// snapshot copies what was read.
func (w *alertWatch) snapshot() (fired map[key]time.Time, kinds map[string]int, errs []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fired = make(map[key]time.Time, len(w.fired))
	for k, v := range w.fired {
		fired[k] = v
	}
	kinds = make(map[string]int, len(w.kinds))
	for k, v := range w.kinds {
		kinds[k] = v
	}
	return fired, kinds, append([]error(nil), w.errs...)
}

func (w *alertWatch) close() {
	for _, r := range w.readers {
		r.Close()
	}
}
