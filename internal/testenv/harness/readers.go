package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// ScanTopic reads every message of topic, partition by partition, from the
// log start to the end offsets found at the call.
func ScanTopic(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("harness: kafka %s: %w", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("harness: topic %s: partitions: %w", topic, err)
	}
	var out []kafka.Message
	for _, p := range parts {
		ms, err := scanPartition(ctx, brokers, topic, p.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func scanPartition(ctx context.Context, brokers []string, topic string, part int) ([]kafka.Message, error) {
	lc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, part)
	if err != nil {
		return nil, fmt.Errorf("harness: topic %s partition %d: leader: %w", topic, part, err)
	}
	first, last, err := lc.ReadOffsets()
	lc.Close()
	if err != nil {
		return nil, fmt.Errorf("harness: topic %s partition %d: offsets: %w", topic, part, err)
	}
	if last <= first {
		return nil, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, fmt.Errorf("harness: topic %s partition %d: offset %d: %w", topic, part, first, err)
	}
	var out []kafka.Message
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("harness: topic %s partition %d: after %d messages: %w", topic, part, len(out), err)
		}
		out = append(out, m)
		if m.Offset >= last-1 {
			return out, nil
		}
	}
}

// AlertWatch reads a scenario's alerts topic as it is written and records
// when each event was first seen (for publish-to-alert latency). Readers
// survive broker outages: on an error they reconnect at the next offset.
type AlertWatch struct {
	mu   sync.Mutex
	seen map[string]time.Time // event id -> first receive time
	// produced is the Kafka record time of that first receipt: when the
	// processor's writer took the event (kafka-go stamps it).
	produced map[string]time.Time
	events   map[string]schemas.AlertEvent
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

// WatchAlerts starts reading every partition of topic from the beginning.
func WatchAlerts(brokers []string, topic string, partitions int) *AlertWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &AlertWatch{seen: map[string]time.Time{}, produced: map[string]time.Time{}, events: map[string]schemas.AlertEvent{}, cancel: cancel}
	for p := 0; p < partitions; p++ {
		w.wg.Add(1)
		go w.read(ctx, brokers, topic, p)
	}
	return w
}

func (w *AlertWatch) read(ctx context.Context, brokers []string, topic string, part int) {
	defer w.wg.Done()
	next := kafka.FirstOffset
	for ctx.Err() == nil {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(next); err == nil {
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					break
				}
				now := time.Now()
				next = m.Offset + 1
				var ev schemas.AlertEvent
				if json.Unmarshal(m.Value, &ev) != nil {
					continue
				}
				w.mu.Lock()
				if _, ok := w.seen[ev.EventID]; !ok {
					w.seen[ev.EventID] = now
					w.produced[ev.EventID] = m.Time
					w.events[ev.EventID] = ev
				}
				w.mu.Unlock()
			}
		}
		r.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Seen returns the first receive time of every event id seen so far.
func (w *AlertWatch) Seen() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.seen)
}

// Produced returns, for every event id seen so far, the Kafka record time
// of the record first seen (the producer's clock: the same machine in the
// load test), to tell the processor's share of a latency from the read's.
func (w *AlertWatch) Produced() map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.produced)
}

// Events returns every distinct event seen so far, by event id.
func (w *AlertWatch) Events() map[string]schemas.AlertEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.events)
}

// Close stops the readers.
func (w *AlertWatch) Close() {
	w.cancel()
	w.wg.Wait()
}

// InfluxSeqs returns, per station, how many `reading` points carry each
// seq in bucket (any sensor).
func InfluxSeqs(ctx context.Context, srv Servers, bucket string) (map[string]map[uint64]int, int, error) {
	cl := influxdb2.NewClient(srv.InfluxURL, srv.InfluxToken)
	defer cl.Close()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: 1970-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "reading" and r._field == "seq")
  |> group()
  |> keep(columns: ["station", "_value"])`, bucket)
	res, err := cl.QueryAPI(srv.InfluxOrg).Query(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("harness: influx query bucket %s: %w", bucket, err)
	}
	out := map[string]map[uint64]int{}
	n := 0
	for res.Next() {
		rec := res.Record()
		st, _ := rec.ValueByKey("station").(string)
		seq, ok := rec.Value().(int64)
		if !ok {
			return nil, 0, fmt.Errorf("harness: influx bucket %s: seq %v is not an integer", bucket, rec.Value())
		}
		if out[st] == nil {
			out[st] = map[uint64]int{}
		}
		out[st][uint64(seq)]++
		n++
	}
	if err := res.Err(); err != nil {
		return nil, 0, fmt.Errorf("harness: influx bucket %s: %w", bucket, err)
	}
	return out, n, nil
}

// WaitFor polls cond every interval until it returns true, ctx ends or
// timeout passes; the error names what was awaited and cond's last error.
func WaitFor(ctx context.Context, what string, timeout, interval time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ok, err := cond(cctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s: not after %s (last error: %v)", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}
