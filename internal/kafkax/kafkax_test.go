package kafkax

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// murmur2Java are Kafka's UtilsTest.testMurmur2 vectors: the Java client's
// murmur2 of each key, as a signed int.
var murmur2Java = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

// PartitionFor is what the Java client's default partitioner picks:
// toPositive(murmur2(key)) % n.
func TestPartitionForMatchesJava(t *testing.T) {
	for _, v := range murmur2Java {
		for _, n := range []int{1, 3, 6, 12, 48, 1 << 16} {
			want := int((uint32(v.hash) & 0x7fffffff) % uint32(n))
			if got := PartitionFor(v.key, n); got != want {
				t.Errorf("PartitionFor(%q, %d) = %d, want %d (Java)", v.key, n, got, want)
			}
		}
	}
}

// PartitionFor agrees with the Balancer the writers use (and with
// kafka-go's Murmur2Balancer), and is stable across calls.
func TestPartitionForStableAndMatchesBalancer(t *testing.T) {
	keys := []string{"", "DN-HOAPHUOC", "DN-CAMLE", "VG-AINGHIA", "TB-CAULAU", "x", "ST-1", "a b", "Đà Nẵng"}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("ST-%04d", i))
	}
	for _, n := range []int{1, 2, 3, 6, 7, 12, 64} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		used := map[int]bool{}
		for _, k := range keys {
			p := PartitionFor(k, n)
			if p < 0 || p >= n {
				t.Fatalf("PartitionFor(%q, %d) = %d out of range", k, n, p)
			}
			used[p] = true
			for range 3 {
				if again := PartitionFor(k, n); again != p {
					t.Fatalf("PartitionFor(%q, %d) unstable: %d then %d", k, n, p, again)
				}
			}
			msg := kafka.Message{Key: []byte(k)}
			if b := (&kafka.Murmur2Balancer{}).Balance(msg, parts...); b != p {
				t.Errorf("PartitionFor(%q, %d) = %d, kafka.Murmur2Balancer = %d", k, n, p, b)
			}
			if b := (kafka.Murmur2Balancer{Consistent: true}).Balance(msg, parts...); b != p {
				t.Errorf("PartitionFor(%q, %d) = %d, consistent Murmur2Balancer = %d", k, n, p, b)
			}
			if b := Balancer().Balance(msg, parts...); b != p {
				t.Errorf("PartitionFor(%q, %d) = %d, Balancer() = %d", k, n, p, b)
			}
		}
		if n <= 12 && len(used) != n {
			t.Errorf("%d keys over %d partitions used only %d of them", len(keys), n, len(used))
		}
	}
	if _, ok := Balancer().(*kafka.Murmur2Balancer); !ok {
		t.Errorf("Balancer() is %T, want *kafka.Murmur2Balancer", Balancer())
	}
}

// Regression test for the kafka-go defaults trap: a kafka.Writer{} literal
// writes with acks=0 (RequireNone) and waits up to 1 s to fill a batch.
func TestNewWriterSafeDefaults(t *testing.T) {
	var zero kafka.Writer
	if zero.RequiredAcks != kafka.RequireNone {
		t.Fatalf("kafka-go changed its zero RequiredAcks to %v; revisit this test", zero.RequiredAcks)
	}
	w := NewWriter(WriterOptions{Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}})
	defer w.Close()
	if w.RequiredAcks != kafka.RequireAll {
		t.Errorf("RequiredAcks = %v, want RequireAll (acks=all)", w.RequiredAcks)
	}
	if w.Async {
		t.Error("Async = true: WriteMessages would return before Kafka acknowledged")
	}
	// A request over the broker's default message.max.bytes (1048588) is
	// refused with "Message Size Too Large" and retried forever.
	if w.BatchBytes <= 0 || w.BatchBytes > 1048588-1024 {
		t.Errorf("BatchBytes = %d, want below the broker default message.max.bytes", w.BatchBytes)
	}
	if w.BatchTimeout <= 0 || w.BatchTimeout > 10*time.Millisecond {
		t.Errorf("BatchTimeout = %v, want a few milliseconds (kafka-go's default is 1 s)", w.BatchTimeout)
	}
	if w.BatchSize != 1000 {
		t.Errorf("BatchSize = %d, want the 1000 default", w.BatchSize)
	}
	if w.AllowAutoTopicCreation {
		t.Error("AllowAutoTopicCreation = true: topics must be created with their partition counts")
	}
	if _, ok := w.Balancer.(*kafka.Murmur2Balancer); !ok {
		t.Errorf("Balancer = %T, want *kafka.Murmur2Balancer", w.Balancer)
	}
	if w.Addr == nil || w.Addr.String() != "127.0.0.1:9092,127.0.0.1:9093" {
		t.Errorf("Addr = %v", w.Addr)
	}
	if w.Topic != "" {
		t.Errorf("Topic = %q, want none (set per message)", w.Topic)
	}
	if w.MaxAttempts < 1 || w.WriteTimeout <= 0 || w.ReadTimeout <= 0 {
		t.Errorf("MaxAttempts %d, WriteTimeout %v, ReadTimeout %v: must be bounded", w.MaxAttempts, w.WriteTimeout, w.ReadTimeout)
	}
	if w.Transport == nil {
		t.Error("no Transport: kafka-go would use its shared DefaultTransport")
	}
}

func TestNewWriterOptions(t *testing.T) {
	w := NewWriter(WriterOptions{Brokers: []string{"b:9092"}, BatchSize: 64, BatchTimeout: 7 * time.Millisecond, Topic: "readings"})
	defer w.Close()
	if w.BatchSize != 64 || w.BatchTimeout != 7*time.Millisecond || w.Topic != "readings" {
		t.Errorf("options not applied: BatchSize %d, BatchTimeout %v, Topic %q", w.BatchSize, w.BatchTimeout, w.Topic)
	}
	if w.RequiredAcks != kafka.RequireAll || w.Async {
		t.Error("options must not weaken acks or make the writer async")
	}
	w2 := NewWriter(WriterOptions{Brokers: []string{"b:9092"}, BatchSize: -1, BatchTimeout: -time.Second})
	defer w2.Close()
	if w2.BatchSize != 1000 || w2.BatchTimeout != DefaultBatchTimeout {
		t.Errorf("non-positive options must fall back to the defaults: BatchSize %d, BatchTimeout %v", w2.BatchSize, w2.BatchTimeout)
	}
}

func TestPartitionBatch(t *testing.T) {
	for _, tc := range []struct{ perCall, partitions, want int }{
		{500, 6, 168},     // the collector's default batch over 6 partitions
		{1024, 6, 342},    // the processor's writer
		{100, 6, 64},      // at least 64
		{500, 1, 1000},    // one partition takes the whole call, twice
		{100000, 1, 1024}, // at most 1,024
		{10, 0, 64},       // no partitions known: as one
	} {
		if got := PartitionBatch(tc.perCall, tc.partitions); got != tc.want {
			t.Errorf("PartitionBatch(%d, %d) = %d, want %d", tc.perCall, tc.partitions, got, tc.want)
		}
	}
}
