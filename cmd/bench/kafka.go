package main

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/testenv/harness"
)

// createTopic creates topic with partitions (replication 1) if it does not
// exist yet, so that its end offsets can be polled before a drainer starts.
func createTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	if _, err := kafkax.EnsureTopics(ctx, brokers, nil, kafkax.TopicSpec{Name: topic, Partitions: partitions, ReplicationFactor: 1}); err != nil {
		return fmt.Errorf("topic %s: %w", topic, err)
	}
	return nil
}

// offsetCounter sums the end offsets of a topic's partitions: the records
// written to it (a new topic starts at 0).
type offsetCounter struct {
	cl    *kafka.Client
	done  func()
	topic string
	req   *kafka.ListOffsetsRequest
}

// newOffsetCounter looks up the partitions of topic.
func newOffsetCounter(ctx context.Context, brokers []string, topic string) (*offsetCounter, error) {
	cl, done := kafkax.NewClient(brokers, nil)
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err == nil && (len(md.Topics) != 1 || md.Topics[0].Error != nil) {
		err = fmt.Errorf("metadata: %v", md.Topics)
	}
	if err != nil {
		done()
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	return &offsetCounter{cl: cl, done: done, topic: topic,
		req: &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}}}, nil
}

// Count is the sum of the end offsets.
func (o *offsetCounter) Count(ctx context.Context) (int64, error) {
	res, err := o.cl.ListOffsets(ctx, o.req)
	if err != nil {
		return 0, fmt.Errorf("topic %s: end offsets: %w", o.topic, err)
	}
	var sum int64
	for _, p := range res.Topics[o.topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("topic %s partition %d: end offset: %w", o.topic, p.Partition, p.Error)
		}
		sum += p.LastOffset
	}
	return sum, nil
}

// Close releases the client.
func (o *offsetCounter) Close() { o.done() }

// topicBytes is the size of the records of topic (keys, values and header
// keys and values: what a producer wrote, without the batch framing) and
// their number.
func topicBytes(ctx context.Context, brokers []string, topic string) (bytes, records int64, err error) {
	ms, err := harness.ScanTopic(ctx, brokers, topic)
	if err != nil {
		return 0, 0, err
	}
	for _, m := range ms {
		bytes += recordSize(m)
	}
	return bytes, int64(len(ms)), nil
}

// recordSize is the key, value and headers of m in bytes.
func recordSize(m kafka.Message) int64 {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}
