package kafkax

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/retry"
)

// Balancer is the partitioner every producer in the project uses: murmur2 on
// the key, identical to the Java client's default, so other tools agree.
func Balancer() kafka.Balancer { return &kafka.Murmur2Balancer{} }

// PartitionFor returns the partition a key lands on among n partitions.
func PartitionFor(key string, n int) int {
	if n <= 1 {
		return 0
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return Balancer().Balance(kafka.Message{Key: []byte(key)}, parts...)
}

// PartitionBatch is a WriterOptions.BatchSize for a writer whose calls
// carry up to perCall messages spread by key over partitions: twice the
// even share (keys are not spread evenly), at least 64 and at most
// maxPartitionBatch.
func PartitionBatch(perCall, partitions int) int {
	share := (perCall + max(partitions, 1) - 1) / max(partitions, 1)
	return min(max(2*share, 64), maxPartitionBatch)
}

// maxPartitionBatch bounds PartitionBatch: 1,024 messages preallocate
// about 150 KB a batch; a produce request holds at most BatchBytes (about
// 1 MB) anyway.
const maxPartitionBatch = 1024

// DefaultBatchTimeout is WriterOptions.BatchTimeout's default.
const DefaultBatchTimeout = 250 * time.Microsecond

// WriterOptions tune NewWriter.
type WriterOptions struct {
	Brokers []string
	TLS     *tls.Config
	// BatchSize is the most messages per partition batch (kafka-go's
	// Writer.BatchSize): a call's messages for one partition beyond it go
	// in further produce requests. kafka-go allocates BatchSize messages
	// (about 150 bytes each) for every partition batch it starts, however
	// few messages the batch gets, so size it to what one call puts in
	// one partition (PartitionBatch), not to the whole call.
	BatchSize int
	// BatchTimeout bounds how long a partial batch waits (kafka-go default
	// 1 s; here 250 µs). kafka-go starts a partition's batch at the first
	// message a WriteMessages call adds and sends it when it is full or
	// this has passed; a call adds all its messages at once, so a short
	// timeout still sends each call's messages together, and costs the
	// writer's callers (collector, alert lane) no wait for company that
	// does not come: they batch by themselves, taking what queued while
	// their previous write was in flight.
	BatchTimeout time.Duration
	// Topic, if set, is the only topic the writer writes to.
	Topic string
}

// Writer is a kafka.Writer that owns its Transport: Close also closes the
// transport's idle connections (kafka-go leaves a caller-provided transport
// open).
type Writer struct {
	*kafka.Writer
	tr *kafka.Transport
}

// Close flushes and closes the writer and its connections.
func (w *Writer) Close() error {
	err := w.Writer.Close()
	w.tr.CloseIdleConnections()
	return err
}

// NewClient returns a kafka.Client on its own transport and a function that
// closes the transport's connections; call it when done.
func NewClient(brokers []string, tlsCfg *tls.Config) (*kafka.Client, func()) {
	tr := &kafka.Transport{TLS: tlsCfg, DialTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}, tr.CloseIdleConnections
}

// NewWriter returns a synchronous writer that waits for all in-sync replicas
// (RequireAll), batches briefly, never creates topics, and uses Balancer.
// WriteMessages returns only when every message is acknowledged or failed.
func NewWriter(o WriterOptions) *Writer {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = DefaultBatchTimeout
	}
	tr := &kafka.Transport{TLS: o.TLS, DialTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	return &Writer{tr: tr, Writer: &kafka.Writer{
		Addr:         kafka.TCP(o.Brokers...),
		Topic:        o.Topic,
		Balancer:     Balancer(),
		RequiredAcks: kafka.RequireAll,
		Async:        false,
		BatchSize:    o.BatchSize,
		// Under the broker default message.max.bytes (1 MiB + 12): kafka-go
		// splits a larger WriteMessages into several requests of this size.
		BatchBytes:             1<<20 - 64<<10,
		BatchTimeout:           o.BatchTimeout,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		ReadTimeout:            10 * time.Second,
		WriteTimeout:           10 * time.Second,
		AllowAutoTopicCreation: false,
		Transport:              tr,
	}}
}

// TopicSpec is a topic the project needs.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
	Configs           map[string]string
}

// EnsureTopics creates the topics that do not exist yet and returns the
// partition count of each. Existing topics are left as they are. It uses the
// version-negotiating kafka.Client (kafka.Conn.CreateTopics speaks
// CreateTopics v0, which Kafka 4 removed).
func EnsureTopics(ctx context.Context, brokers []string, tlsCfg *tls.Config, specs ...TopicSpec) (map[string]int, error) {
	cl, done := NewClient(brokers, tlsCfg)
	defer done()
	var cfgs []kafka.TopicConfig
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
		for k, v := range s.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		cfgs = append(cfgs, tc)
		names = append(names, s.Name)
	}
	res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		return nil, fmt.Errorf("kafka %v: create topics: %w", brokers, err)
	}
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return nil, fmt.Errorf("kafka %v: create topic %s: %w", brokers, name, terr)
		}
	}
	out := map[string]int{}
	var attempts int
	err = retry.Do(ctx, retry.Policy{Min: 200 * time.Millisecond, Max: 200 * time.Millisecond, Attempts: 100}, func(attempt int) error {
		attempts = attempt
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err != nil {
			return err
		}
		for _, t := range md.Topics {
			if t.Error == nil && len(t.Partitions) > 0 {
				out[t.Name] = len(t.Partitions)
			}
		}
		if len(out) != len(names) {
			return fmt.Errorf("%d of %d topics have partitions", len(out), len(names))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kafka %v: topics %v not ready after %d attempts: %w", brokers, names, attempts, err)
	}
	return out, nil
}

// DialLeader connects to the leader of a partition, bootstrapping from each
// broker in turn (not only the first, which may be the one that is down).
func DialLeader(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string, partition int) (*kafka.Conn, error) {
	var errs []error
	for _, b := range brokers {
		conn, err := dialer.DialLeader(ctx, "tcp", b, topic, partition)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("via %s: %w", b, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("kafka: leader of topic %s partition %d: %w", topic, partition, errors.Join(errs...))
}

// PartitionOffsets is the first offset and the end (the next offset to be
// written) of a partition, read from its leader (dialled as DialLeader
// does); the partition is empty when first >= last. The dial's error is
// DialLeader's; the read's is wrapped "offsets:".
func PartitionOffsets(ctx context.Context, dialer *kafka.Dialer, brokers []string, topic string, partition int) (first, last int64, err error) {
	conn, err := DialLeader(ctx, dialer, brokers, topic, partition)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	first, last, err = conn.ReadOffsets()
	if err != nil {
		return 0, 0, fmt.Errorf("offsets: %w", err)
	}
	return first, last, nil
}
