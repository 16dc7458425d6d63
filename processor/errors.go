package processor

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrBadRecord: a `readings` message is not a valid schemas.Record. The
	// collectors never write one; such a message is logged, counted and
	// skipped (it cannot become valid by retrying).
	ErrBadRecord = errors.New("processor: bad record")
	// ErrPartitionMismatch: the changelog topic's partition count differs
	// from the readings topic's, so state could not be co-partitioned.
	ErrPartitionMismatch = errors.New("processor: changelog and readings partition counts differ")
	// ErrNotRunning: what Processor.Ready returns before Run started and
	// after it returned.
	ErrNotRunning = errors.New("processor: not running")
	// ErrNotReady: Processor.Ready's error while Run runs but the processor
	// is not a member of a live generation with every partition's state
	// restored and its worker running (reading the partition counts,
	// joining, rebalancing, generation ended, restoring, stopping, or no
	// partition where one was due); the wrapping error says which.
	ErrNotReady = errors.New("processor: not ready")
)

// CoversHeader is the header of every state changelog message: the
// readings offset (decimal) up to which, exclusive, the state has folded
// every record of its partition. The committed offset of the partition is
// never above it (see the package documentation).
const CoversHeader = "covers"

// StepError wraps a failed pipeline step with where it happened.
type StepError struct {
	Step      string
	Topic     string
	Partition int
	Offset    int64
	Attempt   int
	Err       error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("processor: %s topic %s partition %d offset %d attempt %d: %v", e.Step, e.Topic, e.Partition, e.Offset, e.Attempt, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }
