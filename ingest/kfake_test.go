package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// readTopic reads n messages from partition 0 of topic.
func readTopic(t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), failDeadline)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s: %v after %d of %d messages", topic, err, len(out), n)
		}
		out = append(out, m)
	}
	return out
}

// With the real kafkax writer and an in-process Kafka whose message limit
// is small (8 KiB), a 2 MiB device message (the embedded broker had no
// packet limit) neither stalls the collector nor is lost: its dead letter
// (capped, then refused by the broker as too large) is written without the
// payload, with its size and hash; the next message flows; both are
// acknowledged. Before the fix the dead letter carried the whole payload, the
// writer refused it with MessageTooLargeError, and the collector retried it
// forever without acknowledging anything.
func TestKafkaMessageLimitDoesNotStallIngest(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, schemas.KafkaReadings, schemas.KafkaDLQ),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "8192"}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := cl.ListenAddrs()
	w := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
	defer w.Close()

	client := newFakeClient()
	cfg := testConfig()
	deps := Deps{Registry: testRegistry(t), Writer: w, Now: func() time.Time { return testNow },
		NewClient: func(Config, *slog.Logger) (Client, error) { return client, nil }}
	c, err := New(cfg, deps, discardLogger(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	<-client.connected

	huge := []byte(`{"v":1,"station":"` + stA + `","pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	m1 := newMsg(readingTopic(stA), huge)
	m2 := newMsg(readingTopic(stB), payload(stB, 9, testNow.Add(-time.Minute), 1.5, "m"))
	client.deliver(m1)
	client.deliver(m2)
	waitAcked(t, m1, m2)

	recs := readTopic(t, brokers, schemas.KafkaReadings, 1)
	var r schemas.Record
	if err := json.Unmarshal(recs[0].Value, &r); err != nil || r.Station != stB || r.Seq != 9 {
		t.Errorf("readings: %s (%v), want station %s seq 9", recs[0].Value, err, stB)
	}
	dls := readTopic(t, brokers, schemas.KafkaDLQ, 1)
	var dl schemas.DeadLetter
	if err := json.Unmarshal(dls[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Reason != schemas.ReasonOversize || dl.Payload != nil || !dl.PayloadTruncated || dl.PayloadSize != len(huge) || len(dl.PayloadSHA256) != 64 {
		t.Errorf("dead letter %+v, want oversize without payload, truncated, size %d and a hash", dl, len(huge))
	}
	if v := toFloat64(t, c.m.refused.WithLabelValues(kafkax.RefusedTooLarge)); v != 1 {
		t.Errorf("kafka_refused_total{message_too_large} = %v, want 1", v)
	}
}
