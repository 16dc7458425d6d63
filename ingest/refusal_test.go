package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/schemas"
)

// An oversize payload of any size becomes a dead letter that carries only a
// prefix (schemas.MaxDeadLetterPayload) with the original size and hash, so
// the dead letter itself stays far under the Kafka message limit.
func TestOversizeDeadLetterIsCapped(t *testing.T) {
	for _, size := range []int{300, schemas.MaxDeadLetterPayload + 1, 3 << 20} {
		cfg := testConfig()
		cfg.MaxPayload = 256
		w := newFakeWriter()
		h := start(t, cfg, w)
		big := []byte(`{"v":1,"station":"` + stA + `","pad":"` + strings.Repeat("x", size) + `"}`)
		m := newMsg(readingTopic(stA), big)
		h.client.deliver(m)
		waitAcked(t, m)
		got := w.written()
		if len(got) != 1 || got[0].Topic != schemas.KafkaDLQ {
			t.Fatalf("size %d: wrote %v, want one dead letter", size, got)
		}
		if len(got[0].Value) > 2*schemas.MaxDeadLetterPayload {
			t.Fatalf("size %d: dead letter is %d bytes, want at most %d", size, len(got[0].Value), 2*schemas.MaxDeadLetterPayload)
		}
		var dl schemas.DeadLetter
		if err := json.Unmarshal(got[0].Value, &dl); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(big)
		n := min(len(big), schemas.MaxDeadLetterPayload)
		if dl.Reason != schemas.ReasonOversize || !bytes.Equal(dl.Payload, big[:n]) || dl.PayloadSize != len(big) ||
			dl.PayloadSHA256 != hex.EncodeToString(sum[:]) || dl.PayloadTruncated != (len(big) > n) {
			t.Errorf("size %d: dead letter reason %s, %d payload bytes, size %d, truncated %v; want oversize, the first %d bytes, %d, %v",
				size, dl.Reason, len(dl.Payload), dl.PayloadSize, dl.PayloadTruncated, n, len(big), len(big) > n)
		}
		h.stop(t)
	}
}

// Kafka refusing a message permanently never stalls the collector: the
// offender is settled (a refused record becomes a dead letter with reason
// producer_rejected, a refused dead letter is written without its payload,
// and dropped if even that is refused), the innocent messages of the same
// write are written, every MQTT message is acknowledged, and the refusal is
// counted, never retried with backoff.
func TestPermanentProducerErrorsAreSettledNotRetried(t *testing.T) {
	ts := testNow.Add(-time.Minute)
	isRecord := func(m kafka.Message, seq uint64) bool {
		var r schemas.Record
		return m.Topic == schemas.KafkaReadings && json.Unmarshal(m.Value, &r) == nil && r.Seq == seq
	}
	isDL := func(m kafka.Message, withPayload bool) bool {
		var dl schemas.DeadLetter
		return m.Topic == schemas.KafkaDLQ && json.Unmarshal(m.Value, &dl) == nil && (dl.Payload != nil) == withPayload
	}
	cases := []struct {
		name   string
		refuse func(kafka.Message) error
		// want, per message seq 1..3: "record", "producer_rejected"
		// (dead letter with payload), "stripped" or "dropped".
		want    [3]string
		refused map[string]float64
		dropped float64
	}{
		{"writer size check on one record", func(m kafka.Message) error {
			if isRecord(m, 2) {
				return kafka.MessageTooLargeError{}
			}
			return nil
		}, [3]string{"record", "producer_rejected", "record"}, map[string]float64{kafkax.RefusedTooLarge: 1}, 0},
		{"broker refuses the partition batch of one record", func(m kafka.Message) error {
			if isRecord(m, 2) {
				return kafka.MessageSizeTooLarge
			}
			return nil
		}, [3]string{"record", "producer_rejected", "record"}, map[string]float64{kafkax.RefusedTooLarge: 1}, 0},
		{"invalid record and a dead letter too large with its payload", func(m kafka.Message) error {
			if isRecord(m, 3) {
				return kafka.InvalidRecord
			}
			if isDL(m, true) {
				return kafka.MessageSizeTooLarge
			}
			return nil
		}, [3]string{"record", "record", "stripped"}, map[string]float64{kafkax.RefusedInvalid: 1, kafkax.RefusedTooLarge: 1}, 0},
		{"not authorised for any topic", func(m kafka.Message) error { return kafka.TopicAuthorizationFailed },
			[3]string{"dropped", "dropped", "dropped"}, map[string]float64{kafkax.RefusedUnauthorized: 9}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.BatchSize = 3
			cfg.BatchWait = time.Second // the batch fills to 3 long before this
			w := newFakeWriter()
			w.refuse = tc.refuse
			h := start(t, cfg, w)
			// seq 2 and 3 share station B: a broker refusal of 2 hits 3 too.
			msgs := []*fakeMsg{
				newMsg(readingTopic(stA), payload(stA, 1, ts, 1, "m")),
				newMsg(readingTopic(stB), payload(stB, 2, ts, 1, "m")),
				newMsg(readingTopic(stB), payload(stB, 3, ts, 1, "m")),
			}
			for _, m := range msgs {
				h.client.deliver(m)
			}
			waitAcked(t, msgs...)
			got := w.written()
			for i, want := range tc.want {
				seq := uint64(i + 1)
				var n int
				for _, km := range got {
					switch want {
					case "record":
						if isRecord(km, seq) {
							n++
						}
					case "producer_rejected", "stripped":
						var dl schemas.DeadLetter
						if km.Topic == schemas.KafkaDLQ && json.Unmarshal(km.Value, &dl) == nil && dl.Topic == msgs[i].topic &&
							dl.PayloadSize == len(msgs[i].payload) && (dl.Payload == nil) == (want == "stripped") {
							sum := sha256.Sum256(msgs[i].payload)
							if dl.Reason != schemas.ReasonProducerRejected || dl.PayloadSHA256 != hex.EncodeToString(sum[:]) || !strings.Contains(dl.Detail, "refused permanently") {
								t.Errorf("message %d: dead letter %+v", seq, dl)
							}
							if want == "stripped" || bytes.Equal(dl.Payload, msgs[i].payload) {
								n++
							}
						}
					}
				}
				if want == "dropped" {
					if len(got) != 0 {
						t.Errorf("message %d: want dropped, but Kafka holds %d messages", seq, len(got))
					}
					continue
				}
				if n != 1 {
					t.Errorf("message %d: Kafka holds %d copies of its %s, want 1 (written: %d messages)", seq, n, want, len(got))
				}
			}
			h.stop(t)
			for _, r := range kafkax.RefusalReasons() {
				if v := toFloat64(t, h.c.m.refused.WithLabelValues(r)); v != tc.refused[r] {
					t.Errorf("kafka_refused_total{reason=%s} = %v, want %v", r, v, tc.refused[r])
				}
			}
			var dropped float64
			for _, r := range kafkax.RefusalReasons() {
				dropped += toFloat64(t, h.c.m.dropped.WithLabelValues(r))
			}
			if dropped != tc.dropped {
				t.Errorf("dropped_total = %v, want %v", dropped, tc.dropped)
			}
			if n := w.callCount(); n > 12 {
				t.Errorf("writer called %d times for 3 messages: refusals are being retried", n)
			}
		})
	}
}

// classify turns a producer error into a *PermanentError or a
// *RetryableError naming the topic, the station and the attempt.
func TestClassifyWrapsStationTopicAttempt(t *testing.T) {
	c := &Collector{}
	o := outMsg{km: kafka.Message{Topic: schemas.KafkaReadings, Key: []byte(stA)}}
	cases := []struct {
		err       error
		permanent bool
	}{
		{kafka.MessageTooLargeError{}, true},
		{kafka.WriteErrors{kafka.TopicAuthorizationFailed}[0], true},
		{kafka.NotLeaderForPartition, false},
		{errBrokerDown, false},
	}
	for _, tc := range cases {
		err := c.classify(o, 4, tc.err)
		if IsPermanent(err) != tc.permanent || IsRetryable(err) == tc.permanent {
			t.Errorf("classify(%v) = %T, want permanent=%v", tc.err, err, tc.permanent)
		}
		for _, part := range []string{schemas.KafkaReadings, stA, "attempt 4"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("classify(%v) = %q, lacks %q", tc.err, err, part)
			}
		}
	}
	if c.classify(o, 1, nil) != nil {
		t.Error("classify(nil) != nil")
	}
}
