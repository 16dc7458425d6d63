package kafkax

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestPermanentReason(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		reason string // "": retryable
	}{
		{"nil", nil, ""},
		{"writer size check", kafka.MessageTooLargeError{}, RefusedTooLarge},
		{"writer size check wrapped", fmt.Errorf("produce: %w", kafka.MessageTooLargeError{}), RefusedTooLarge},
		{"broker message too large", kafka.MessageSizeTooLarge, RefusedTooLarge},
		{"broker message too large with text", fmt.Errorf("%w: %s", kafka.MessageSizeTooLarge, "The message is too large."), RefusedTooLarge},
		{"broker batch too large", kafka.RecordListTooLarge, RefusedTooLarge},
		{"invalid record", kafka.InvalidRecord, RefusedInvalid},
		{"invalid timestamp", kafka.InvalidTimestamp, RefusedInvalid},
		{"topic authorization", kafka.TopicAuthorizationFailed, RefusedUnauthorized},
		{"cluster authorization", kafka.ClusterAuthorizationFailed, RefusedUnauthorized},
		{"invalid topic", kafka.InvalidTopic, RefusedInvalidTopic},
		{"policy", kafka.PolicyViolation, RefusedUnsupported},
		{"leader election", kafka.NotLeaderForPartition, ""},
		{"not enough replicas", kafka.NotEnoughReplicas, ""},
		{"broker not available", kafka.BrokerNotAvailable, ""},
		{"request timed out", kafka.RequestTimedOut, ""},
		{"unknown topic (metadata catching up)", kafka.UnknownTopicOrPartition, ""},
		{"crc mismatch", kafka.InvalidMessage, ""},
		{"connection refused", &opError{syscall.ECONNREFUSED}, ""},
		{"unexpected eof", io.ErrUnexpectedEOF, ""},
		{"context deadline", context.DeadlineExceeded, ""},
		{"untyped", errors.New("something odd"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := PermanentReason(tc.err)
			if r != tc.reason || ok != (tc.reason != "") {
				t.Fatalf("PermanentReason(%v) = %q, %v; want %q, %v", tc.err, r, ok, tc.reason, tc.reason != "")
			}
		})
	}
	seen := map[string]bool{}
	for _, r := range RefusalReasons() {
		seen[r] = true
	}
	for _, tc := range cases {
		if tc.reason != "" && !seen[tc.reason] {
			t.Errorf("RefusalReasons lacks %q", tc.reason)
		}
	}
}

type opError struct{ err error }

func (e *opError) Error() string { return "dial: " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// What the real writer returns when a broker refuses one record as too
// large: kafka.WriteErrors, one entry per message, where every message of
// the refused partition batch carries MessageSizeTooLarge (the innocent
// neighbours too) and the messages of other partitions succeed. A message
// over the writer's own BatchBytes fails before anything is sent with a
// kafka.MessageTooLargeError naming it.
func TestWriterErrorsFromBroker(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2048"}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := NewWriter(WriterOptions{Brokers: cl.ListenAddrs(), Topic: "t"})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Two keys on different partitions of 2.
	var k0, k1 string
	for i := 0; k0 == "" || k1 == ""; i++ {
		k := fmt.Sprintf("st-%d", i)
		if PartitionFor(k, 2) == 0 && k0 == "" {
			k0 = k
		} else if PartitionFor(k, 2) == 1 && k1 == "" {
			k1 = k
		}
	}
	msgs := []kafka.Message{
		{Key: []byte(k0), Value: []byte("small")},
		{Key: []byte(k0), Value: bytes.Repeat([]byte("x"), 4096)}, // over message.max.bytes
		{Key: []byte(k1), Value: []byte("other partition")},
	}
	err = w.WriteMessages(ctx, msgs...)
	var werr kafka.WriteErrors
	if !errors.As(err, &werr) || len(werr) != len(msgs) {
		t.Fatalf("WriteMessages = %T %v, want kafka.WriteErrors of %d", err, err, len(msgs))
	}
	for i, want := range []string{RefusedTooLarge, RefusedTooLarge, ""} {
		if r, _ := PermanentReason(werr[i]); r != want {
			t.Errorf("message %d: error %v classified %q, want %q", i, werr[i], r, want)
		}
	}
	// Alone, the small message goes through and the big one is refused again.
	if err := w.WriteMessages(ctx, msgs[0]); err != nil {
		t.Errorf("small message alone: %v", err)
	}
	if err := w.WriteMessages(ctx, msgs[1]); err == nil {
		t.Error("big message alone accepted")
	} else if r, _ := PermanentReason(singleError(err)); r != RefusedTooLarge {
		t.Errorf("big message alone: %v classified %q", err, r)
	}

	huge := kafka.Message{Key: []byte(k1), Value: bytes.Repeat([]byte("y"), 2<<20)} // over BatchBytes
	err = w.WriteMessages(ctx, msgs[0], huge)
	var tl kafka.MessageTooLargeError
	if !errors.As(err, &tl) || !bytes.Equal(tl.Message.Value, huge.Value) || len(tl.Remaining) != 1 {
		t.Fatalf("over BatchBytes: %T %v, want kafka.MessageTooLargeError naming the huge message", err, err)
	}
}

func singleError(err error) error {
	var werr kafka.WriteErrors
	if errors.As(err, &werr) && len(werr) == 1 {
		return werr[0]
	}
	return err
}
