package publish

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/retry"
)

// DefaultTopic is the topic of the shared publish log (before the
// deployment's topic prefix).
const DefaultTopic = "cap.log"

// ErrNotFollowing is returned by KafkaLog.Append while no Follow runs:
// the append's outcome is only known once the record is read back.
var ErrNotFollowing = errors.New("publish: kafka log not followed (Publisher.Run is not running)")

// KafkaOptions configure OpenKafka.
type KafkaOptions struct {
	Brokers []string
	TLS     *tls.Config
	// Topic defaults to DefaultTopic; it is created with one partition
	// and unlimited retention if missing (public warnings are a permanent
	// record, and few).
	Topic             string
	ReplicationFactor int // default 1
	Logger            *slog.Logger
}

// KafkaLog is a Log on one partition of a Kafka topic that every replica
// of the alerts service appends to and follows: one total order, so every
// replica folds the same records in the same order. Key = alert id, value
// = the record (JSON); writes wait for all in-sync replicas. Append
// produces the record and waits until Follow has read it back: if an
// earlier record of the same identifier is in the log (another replica
// approved the same draft first), that one is the issued document and
// Append returns ErrAlreadyIssued. The topic is not compacted, so the
// first record of an identifier is never removed.
type KafkaLog struct {
	o      KafkaOptions
	w      *kafkax.Writer
	dialer *kafka.Dialer
	log    *slog.Logger

	following atomic.Bool
	mu        sync.Mutex
	recs      []Record
	first     map[string]string // identifier → proposal of its first record
	next      int64             // offset Follow continues from
	waiters   map[string]chan struct{}
}

var (
	_ Log      = (*KafkaLog)(nil)
	_ Follower = (*KafkaLog)(nil)
)

// OpenKafka ensures the topic and reads it to its current end.
func OpenKafka(ctx context.Context, o KafkaOptions) (*KafkaLog, error) {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if _, err := kafkax.EnsureTopics(ctx, o.Brokers, o.TLS, kafkax.TopicSpec{Name: o.Topic, Partitions: 1,
		ReplicationFactor: o.ReplicationFactor, Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"}}); err != nil {
		return nil, fmt.Errorf("publish log topic %s: %w", o.Topic, err)
	}
	k := &KafkaLog{o: o, first: map[string]string{}, waiters: map[string]chan struct{}{},
		log:    o.Logger.With("component", "cap-log", "topic", o.Topic),
		dialer: &kafka.Dialer{Timeout: 10 * time.Second, TLS: o.TLS},
		w:      kafkax.NewWriter(kafkax.WriterOptions{Brokers: o.Brokers, TLS: o.TLS, Topic: o.Topic, BatchSize: 10})}
	if err := k.load(ctx); err != nil {
		k.w.Close()
		return nil, fmt.Errorf("publish log topic %s partition 0: %w", o.Topic, err)
	}
	return k, nil
}

// load reads partition 0 from its start to its current end.
func (k *KafkaLog) load(ctx context.Context) error {
	first, last, err := kafkax.PartitionOffsets(ctx, k.dialer, k.o.Brokers, k.o.Topic, 0)
	if err != nil {
		return err
	}
	k.next = first
	if first >= last {
		return nil
	}
	r := k.reader(first)
	defer r.Close()
	for k.next < last {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read at offset %d: %w", k.next, err)
		}
		k.fold(m)
	}
	return nil
}

func (k *KafkaLog) reader(from int64) *kafka.Reader {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.o.Brokers, Topic: k.o.Topic, Partition: 0, Dialer: k.dialer,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond, ReadBackoffMin: 100 * time.Millisecond})
	_ = r.SetOffset(from) // only fails on a reader already in use
	return r
}

// fold applies one message; it returns the record (ok false for a record
// that does not decode, which is logged and skipped) and the waiter of
// its proposal.
func (k *KafkaLog) fold(m kafka.Message) (rec Record, waiter chan struct{}, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = m.Offset + 1
	if err := json.Unmarshal(m.Value, &rec); err != nil || rec.check() != nil {
		if err == nil {
			err = rec.check()
		}
		k.log.Error("skipping a bad publish log record", "partition", 0, "offset", m.Offset, "err", err)
		return rec, nil, false
	}
	k.recs = append(k.recs, rec)
	if rec.Kind == KindIssued {
		if _, seen := k.first[rec.Identifier]; !seen {
			k.first[rec.Identifier] = rec.Proposal
		}
	}
	return rec, k.waiters[rec.Proposal], true
}

// Records implements Log: the records read so far, oldest first.
func (k *KafkaLog) Records(context.Context) ([]Record, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Record(nil), k.recs...), nil
}

// Append implements Log: it produces r (acks=all) and waits until Follow
// has read it back. ErrAlreadyIssued (wrapped) when an earlier record has
// r's identifier; ErrNotFollowing while Follow does not run.
func (k *KafkaLog) Append(ctx context.Context, r Record) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("publish log topic %s: alert %s: %w", k.o.Topic, r.AlertID, err)
	}
	if r.Proposal == "" {
		r.Proposal = proposalID()
	}
	if !k.following.Load() {
		return fmt.Errorf("publish log topic %s: alert %s: %w", k.o.Topic, r.AlertID, ErrNotFollowing)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("publish log topic %s: alert %s: %w", k.o.Topic, r.AlertID, err)
	}
	done := make(chan struct{})
	k.mu.Lock()
	k.waiters[r.Proposal] = done
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.waiters, r.Proposal)
		k.mu.Unlock()
	}()
	if err := k.w.WriteMessages(ctx, kafka.Message{Key: []byte(r.AlertID), Value: b}); err != nil {
		return fmt.Errorf("publish log topic %s partition 0: alert %s: %w", k.o.Topic, r.AlertID, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("publish log topic %s: alert %s: written, not yet read back: %w", k.o.Topic, r.AlertID, ctx.Err())
	}
	if r.Kind != KindIssued {
		return nil
	}
	k.mu.Lock()
	winner := k.first[r.Identifier]
	k.mu.Unlock()
	if winner != r.Proposal {
		return fmt.Errorf("publish log topic %s: document %s: %w", k.o.Topic, r.Identifier, ErrAlreadyIssued)
	}
	return nil
}

// Follow implements Follower: it reads the records appended after those
// OpenKafka read (by any replica, this one included) and calls fn for
// each, in log order, until ctx ends (nil then). Kafka being unavailable
// is retried.
func (k *KafkaLog) Follow(ctx context.Context, fn func(Record)) error {
	k.mu.Lock()
	from := k.next
	k.mu.Unlock()
	r := k.reader(from)
	defer r.Close()
	k.following.Store(true)
	defer k.following.Store(false)
	policy := retry.Policy{Min: 100 * time.Millisecond, Max: 100 * time.Millisecond, OnRetry: func(attempt int, err error, wait time.Duration) {
		k.log.Warn("publish log fetch failed; retrying", "partition", 0, "attempt", attempt, "retry_in", wait, "err", err)
	}}
	for {
		var m kafka.Message
		if err := retry.Do(ctx, policy, func(int) error {
			var err error
			m, err = r.FetchMessage(ctx)
			return err
		}); err != nil {
			return nil // only ctx ends the retries: a stop
		}
		rec, waiter, ok := k.fold(m)
		if ok {
			fn(rec)
		}
		if waiter != nil {
			close(waiter)
		}
	}
}

// Close closes the writer.
func (k *KafkaLog) Close() error { return k.w.Close() }
