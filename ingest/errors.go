package ingest

import (
	"errors"
	"fmt"
)

// ErrStopped is returned by Run when the collector stopped because its
// context was cancelled; messages not yet written were not acknowledged and
// will be redelivered by the broker.
var ErrStopped = errors.New("ingest: stopped")

// RetryableError is a failure that may succeed if tried again (Kafka down,
// a leader election, a network error). The collector retries these forever
// with backoff and never acknowledges the MQTT messages meanwhile.
type RetryableError struct {
	Op      string
	Topic   string
	Station string // the Kafka key; empty for a batch-wide failure
	Attempt int
	Err     error
}

func (e *RetryableError) Error() string {
	return fmt.Sprintf("ingest: %s topic %s station %q attempt %d: %v", e.Op, e.Topic, e.Station, e.Attempt, e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a *RetryableError.
func IsRetryable(err error) bool {
	var re *RetryableError
	return errors.As(err, &re)
}

// PermanentError is a Kafka refusal of one message that no retry can fix:
// the message is too large, invalid, or the collector is not authorised for
// the topic (see kafkax.PermanentReason; Reason is its label). The collector
// classifies every per-message producer error into a *PermanentError or a
// *RetryableError. A permanent one is never retried: a refused record
// becomes a dead letter with reason producer_rejected, a refused dead letter
// is written once more without its payload and, if that is refused too,
// dropped; each step is logged with this error and counted
// (resilience_ingest_kafka_refused_total, resilience_ingest_dropped_total).
// The MQTT message is acknowledged once that is settled, so one bad message
// can never stall ingest. Run does not return it.
type PermanentError struct {
	Op      string
	Topic   string
	Station string
	Attempt int
	Reason  string
	Err     error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("ingest: %s topic %s station %q attempt %d: refused permanently (%s): %v", e.Op, e.Topic, e.Station, e.Attempt, e.Reason, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a *PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
