package embedded_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/internal/kafkax"
)

func TestNewKafkaListenErrors(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:9092", "192.0.2.1:9092", "[::]:9092", "127.0.0.1", "127.0.0.1:http"} {
		if _, err := embedded.NewKafka(embedded.KafkaConfig{Listen: listen}, quietLogger()); err == nil {
			t.Errorf("NewKafka(%q) = nil error", listen)
		} else if !strings.Contains(err.Error(), "kafka.embedded.listen") {
			t.Errorf("NewKafka(%q) = %v, want an error naming kafka.embedded.listen", listen, err)
		}
	}
}

// TestKafkaPersistence produces to the embedded log, closes it, reopens it
// on the same DataDir and reads the messages back.
func TestKafkaPersistence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const topic = "readings"
	var want []kafka.Message
	for i := 0; i < 5; i++ {
		want = append(want, kafka.Message{Key: []byte("VG-AINGHIA"), Value: []byte(fmt.Sprintf(`{"seq":%d}`, i))})
	}

	// First life: create the topic and produce.
	k1, err := embedded.NewKafka(embedded.KafkaConfig{Listen: freeAddr(t), DataDir: dir}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	stop1 := runBroker(t, k1.Run)
	parts, err := kafkax.EnsureTopics(ctx, k1.Brokers(), nil, kafkax.TopicSpec{Name: topic, Partitions: 2, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if parts[topic] != 2 {
		t.Fatalf("EnsureTopics: %v, want %s with 2 partitions", parts, topic)
	}
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: k1.Brokers(), Topic: topic})
	err = w.WriteMessages(ctx, want...)
	w.Close()
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	stop1()

	// Second life on the same DataDir, on another port.
	k2, err := embedded.NewKafka(embedded.KafkaConfig{Listen: freeAddr(t), DataDir: dir}, quietLogger())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	runBroker(t, k2.Run)
	part := kafkax.PartitionFor("VG-AINGHIA", 2)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k2.Brokers(), Topic: topic, Partition: part,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("message %d after reopening: %v", i, err)
		}
		if string(m.Key) != string(w.Key) || string(m.Value) != string(w.Value) || m.Offset != int64(i) {
			t.Errorf("message %d = offset %d %s=%s, want offset %d %s=%s", i, m.Offset, m.Key, m.Value, i, w.Key, w.Value)
		}
	}
	// Nothing but what was produced: the partition ends where it ended.
	conn, err := kafka.DialLeader(ctx, "tcp", k2.Brokers()[0], topic, part)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if end, err := conn.ReadLastOffset(); err != nil || end != int64(len(want)) {
		t.Errorf("partition %d ends at %d (%v), want %d", part, end, err, len(want))
	}
	if first, err := conn.ReadFirstOffset(); err != nil || first != 0 {
		t.Errorf("partition %d starts at %d (%v), want 0", part, first, err)
	}
}
