package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// failDeadline bounds how long a test waits for something that must happen;
// reaching it is a failure, never a measurement.
const failDeadline = 20 * time.Second

// fakeClient implements Client. Connect records the filters and the handler;
// deliver calls the handler the way the MQTT client's dispatch goroutines do
// (it blocks while the collector applies backpressure).
type fakeClient struct {
	connected    chan struct{}
	disconnected chan struct{}

	mu      sync.Mutex
	filters []string
	handle  func(Message)
	discOne sync.Once
}

func newFakeClient() *fakeClient {
	return &fakeClient{connected: make(chan struct{}), disconnected: make(chan struct{})}
}

func (f *fakeClient) Connect(_ context.Context, filters []string, handle func(Message)) error {
	f.mu.Lock()
	f.filters = append([]string(nil), filters...)
	f.handle = handle
	f.mu.Unlock()
	close(f.connected)
	return nil
}

// Status is nil: the fake is always connected and subscribed.
func (f *fakeClient) Status() error { return nil }

func (f *fakeClient) Disconnect() { f.discOne.Do(func() { close(f.disconnected) }) }

func (f *fakeClient) deliver(m Message) {
	f.mu.Lock()
	h := f.handle
	f.mu.Unlock()
	h(m)
}

// fakeMsg implements Message and records its acknowledgement.
type fakeMsg struct {
	topic   string
	payload []byte
	acks    atomic.Int32
	acked   chan struct{}
	ackOnce sync.Once
	// onAck, if set, runs inside Ack before the message is marked acked.
	onAck func(*fakeMsg)
	// writtenAtAck is set by onAck hooks: whether the message had already
	// reached Kafka in a write that returned nil when Ack was called.
	writtenAtAck atomic.Bool
}

func newMsg(topic string, payload []byte) *fakeMsg {
	return &fakeMsg{topic: topic, payload: payload, acked: make(chan struct{})}
}

func (m *fakeMsg) Topic() string   { return m.topic }
func (m *fakeMsg) Payload() []byte { return m.payload }
func (m *fakeMsg) Ack() {
	if m.onAck != nil {
		m.onAck(m)
	}
	m.acks.Add(1)
	m.ackOnce.Do(func() { close(m.acked) })
}

func (m *fakeMsg) isAcked() bool {
	select {
	case <-m.acked:
		return true
	default:
		return false
	}
}

// writeCall is one WriteMessages call of a scripted fakeWriter, waiting for
// the test's reply.
type writeCall struct {
	n     int
	msgs  []kafka.Message
	reply chan error
}

// fakeWriter implements KafkaWriter. By default every write succeeds; with
// failFirst it fails the first N calls; with scripted, every call is handed
// to the test on calls and returns what the test replies (or the context
// error). Successful writes are recorded.
type fakeWriter struct {
	failFirst int
	scripted  bool
	calls     chan *writeCall
	// refuse, if set, is asked about every message of an unscripted write;
	// a non-nil answer fails the write the way kafka-go does: a
	// kafka.MessageTooLargeError answer as the writer's own size check
	// (nothing sent), any other as a broker refusing the partition batch
	// (kafka.WriteErrors where every message with the offender's key fails,
	// the others are written).
	refuse func(kafka.Message) error

	mu     sync.Mutex
	n      int
	ok     []kafka.Message // messages of writes that returned nil
	okCall int
}

var errBrokerDown = errors.New("fake kafka: broker not available")

func newFakeWriter() *fakeWriter { return &fakeWriter{calls: make(chan *writeCall, 64)} }

func (w *fakeWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	cp := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		m.Key = bytes.Clone(m.Key)
		m.Value = bytes.Clone(m.Value)
		cp[i] = m
	}
	w.mu.Lock()
	w.n++
	n := w.n
	w.mu.Unlock()
	var err error
	switch {
	case w.scripted:
		c := &writeCall{n: n, msgs: cp, reply: make(chan error, 1)}
		select {
		case w.calls <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err = <-c.reply:
		case <-ctx.Done():
			return ctx.Err()
		}
	case n <= w.failFirst:
		err = errBrokerDown
	case w.refuse != nil:
		return w.refused(cp)
	}
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.ok = append(w.ok, cp...)
	w.okCall++
	w.mu.Unlock()
	return nil
}

// refused applies w.refuse to one write (see fakeWriter.refuse).
func (w *fakeWriter) refused(msgs []kafka.Message) error {
	errs := make(kafka.WriteErrors, len(msgs))
	failedKeys := map[string]error{}
	for i, m := range msgs {
		err := w.refuse(m)
		var tl kafka.MessageTooLargeError
		if errors.As(err, &tl) {
			rest := append(append([]kafka.Message(nil), msgs[:i]...), msgs[i+1:]...)
			return kafka.MessageTooLargeError{Message: m, Remaining: rest}
		}
		if err != nil {
			failedKeys[string(m.Key)] = err
		}
	}
	var ok []kafka.Message
	for i, m := range msgs {
		if err, bad := failedKeys[string(m.Key)]; bad {
			errs[i] = err
		} else {
			ok = append(ok, m)
		}
	}
	w.mu.Lock()
	w.ok = append(w.ok, ok...)
	w.mu.Unlock()
	if len(failedKeys) == 0 {
		return nil
	}
	return errs
}

func (w *fakeWriter) written() []kafka.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]kafka.Message(nil), w.ok...)
}

func (w *fakeWriter) callCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// carries reports whether msgs hold what m became: a record on `readings`
// (matched by station and seq) or a dead letter carrying m's exact bytes.
func carries(msgs []kafka.Message, m *fakeMsg, station string, seq uint64) bool {
	for _, km := range msgs {
		switch km.Topic {
		case schemas.KafkaReadings:
			var r schemas.Record
			if json.Unmarshal(km.Value, &r) == nil && r.Station == station && r.Seq == seq && station != "" {
				return true
			}
		case schemas.KafkaDLQ:
			var dl schemas.DeadLetter
			if json.Unmarshal(km.Value, &dl) == nil && dl.Topic == m.topic && bytes.Equal(dl.Payload, m.payload) {
				return true
			}
		}
	}
	return false
}

// ackChecksWrite makes m record, when acked, whether w had already written
// it (station/seq identify a valid message; empty station: a dead letter).
func ackChecksWrite(m *fakeMsg, w *fakeWriter, station string, seq uint64) *fakeMsg {
	m.onAck = func(m *fakeMsg) { m.writtenAtAck.Store(carries(w.written(), m, station, seq)) }
	return m
}

func waitAcked(t *testing.T, msgs ...*fakeMsg) {
	t.Helper()
	deadline := time.NewTimer(failDeadline)
	defer deadline.Stop()
	for i, m := range msgs {
		select {
		case <-m.acked:
		case <-deadline.C:
			t.Fatalf("message %d (%s) not acknowledged", i, m.topic)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
