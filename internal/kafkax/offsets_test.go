package kafkax

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// PartitionOffsets reads a partition's first offset and end from its
// leader: equal while it is empty, the end one past the last record after
// writes; a dial that reaches no broker is DialLeader's error.
func TestPartitionOffsets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dialer := &kafka.Dialer{Timeout: 10 * time.Second}
	brokers := c.ListenAddrs()

	conn, err := DialLeader(ctx, dialer, brokers, "log", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteMessages(kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}, kafka.Message{Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	for _, tc := range []struct {
		partition   int
		first, last int64
	}{
		{0, 0, 0},
		{1, 0, 3},
	} {
		first, last, err := PartitionOffsets(ctx, dialer, brokers, "log", tc.partition)
		if err != nil || first != tc.first || last != tc.last {
			t.Errorf("partition %d: PartitionOffsets = %d, %d, %v; want %d, %d, nil", tc.partition, first, last, err, tc.first, tc.last)
		}
	}

	dead := []string{"127.0.0.1:1"}
	if _, _, err := PartitionOffsets(ctx, dialer, dead, "log", 0); err == nil || !strings.Contains(err.Error(), "leader of topic log partition 0") {
		t.Errorf("PartitionOffsets via no broker: err %v, want DialLeader's error", err)
	}
}
