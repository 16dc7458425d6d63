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
	Attempt int
	Err     error
}

func (e *RetryableError) Error() string {
	return fmt.Sprintf("ingest: %s topic %s attempt %d: %v", e.Op, e.Topic, e.Attempt, e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a *RetryableError.
func IsRetryable(err error) bool {
	var re *RetryableError
	return errors.As(err, &re)
}
