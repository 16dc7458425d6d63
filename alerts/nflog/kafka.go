package nflog

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
)

// DefaultTopic is the compacted topic of the notification log.
const DefaultTopic = "alerts.nflog"

// KafkaOptions configure OpenKafka.
type KafkaOptions struct {
	Brokers []string
	TLS     *tls.Config
	// Topic defaults to DefaultTopic; it is created compacted if missing.
	Topic             string
	Partitions        int // default 1
	ReplicationFactor int // default 1
	Retention         time.Duration
}

// Kafka is a Log on a compacted Kafka topic: key = notification id, value =
// the entry's latest record (JSON), a tombstone once compacted away. Every
// write waits for all in-sync replicas. Replicas that share the topic see
// each other's records after Refresh; the service calls it when it takes
// over alert partitions, before deciding anything for their alerts.
type Kafka struct {
	o         KafkaOptions
	idx       *index
	w         *kafkax.Writer
	dialer    *kafka.Dialer
	mu        sync.Mutex // serialises Refresh
	next      map[int]int64
	partCount int
}

var _ Log = (*Kafka)(nil)

// OpenKafka ensures the topic and loads it to its end.
func OpenKafka(ctx context.Context, o KafkaOptions) (*Kafka, error) {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = 1
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	parts, err := kafkax.EnsureTopics(ctx, o.Brokers, o.TLS, kafkax.TopicSpec{Name: o.Topic, Partitions: o.Partitions,
		ReplicationFactor: o.ReplicationFactor, Configs: map[string]string{"cleanup.policy": "compact",
			"delete.retention.ms": strconv.FormatInt(o.Retention.Milliseconds(), 10)}})
	if err != nil {
		return nil, fmt.Errorf("nflog topic %s: %w", o.Topic, err)
	}
	k := &Kafka{o: o, idx: newIndex(), next: map[int]int64{}, partCount: parts[o.Topic],
		dialer: &kafka.Dialer{Timeout: 10 * time.Second, TLS: o.TLS},
		w:      kafkax.NewWriter(kafkax.WriterOptions{Brokers: o.Brokers, TLS: o.TLS, Topic: o.Topic, BatchSize: 100})}
	if err := k.Refresh(ctx); err != nil {
		k.w.Close()
		return nil, err
	}
	return k, nil
}

// Refresh reads every partition from where the last Refresh stopped to its
// current end.
func (k *Kafka) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for p := 0; p < k.partCount; p++ {
		if err := k.refreshPartition(ctx, p); err != nil {
			return fmt.Errorf("nflog topic %s partition %d: %w", k.o.Topic, p, err)
		}
	}
	return nil
}

func (k *Kafka) refreshPartition(ctx context.Context, p int) error {
	first, last, err := kafkax.PartitionOffsets(ctx, k.dialer, k.o.Brokers, k.o.Topic, p)
	if err != nil {
		return err
	}
	from := k.next[p]
	if from < first {
		from = first
	}
	if from >= last {
		k.next[p] = last
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.o.Brokers, Topic: k.o.Topic, Partition: p, Dialer: k.dialer,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read at offset %d: %w", from, err)
		}
		id := string(m.Key)
		if m.Value == nil {
			k.idx.apply(id, nil)
		} else {
			e, err := decode(m.Value)
			if err != nil {
				return fmt.Errorf("offset %d key %q: %w", m.Offset, id, err)
			}
			k.idx.apply(e.ID, &e)
		}
		if m.Offset >= last-1 {
			k.next[p] = m.Offset + 1
			return nil
		}
	}
}

func (k *Kafka) write(ctx context.Context, id string, e *Entry) error {
	m := kafka.Message{Key: []byte(id)}
	if e != nil {
		b, err := encode(*e)
		if err != nil {
			return err
		}
		m.Value = b
	}
	if err := k.w.WriteMessages(ctx, m); err != nil {
		return fmt.Errorf("nflog topic %s key %s: %w", k.o.Topic, id, err)
	}
	k.idx.apply(id, e)
	return nil
}

// Intend implements Log.
func (k *Kafka) Intend(ctx context.Context, e Entry) error {
	e, err := k.idx.checkIntent(e)
	if err != nil {
		return err
	}
	return k.write(ctx, e.ID, &e)
}

// MarkSent implements Log.
func (k *Kafka) MarkSent(ctx context.Context, id string, at time.Time) error {
	e, err := k.idx.final(id, Sent, at, "")
	if err != nil {
		return err
	}
	return k.write(ctx, id, &e)
}

// Abandon implements Log.
func (k *Kafka) Abandon(ctx context.Context, id string, at time.Time, reason string) error {
	e, err := k.idx.final(id, Abandoned, at, reason)
	if err != nil {
		return err
	}
	return k.write(ctx, id, &e)
}

// Get implements Log.
func (k *Kafka) Get(id string) (Entry, bool) { return k.idx.get(id) }

// Has implements Log.
func (k *Kafka) Has(target, member string) bool { return k.idx.has(target, member) }

// Pending implements Log.
func (k *Kafka) Pending() []Entry { return k.idx.pending() }

// Compact writes tombstones for final entries older than the retention;
// Kafka's log compaction then removes them and their earlier records.
func (k *Kafka) Compact(ctx context.Context, now time.Time) (int, error) {
	ids := k.idx.expired(now.Add(-k.o.Retention))
	for i, id := range ids {
		if err := k.write(ctx, id, nil); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// Close closes the writer.
func (k *Kafka) Close() error { return k.w.Close() }
