package processor

import (
	"fmt"
	"slices"
	"sync"
)

// membership follows the processor's place in its consumer group, for
// Ready. Run reports every step of a generation's life to it; Ready reads
// it. Each report names its generation, so that a late report of an ended
// generation does not overwrite the state of the next.
type membership struct {
	mu sync.Mutex
	memberState
}

// memberState is membership's state, under its mutex.
type memberState struct {
	running    bool
	stopping   bool
	partitions int   // readings partitions (0 until the metadata is read)
	gen        int32 // the current or last generation (0: none yet)
	joinedOnce bool
	live       bool  // gen has not ended
	assigned   []int // gen's readings partitions
	restored   int   // workers of gen that restored their state and run
	members    int   // group members, asked only when gen assigned no partition
	membersErr error
	left       error // why gen ended, when a worker left it on an error
	joinErr    error // the last failed attempt to join the next generation
}

// start marks Run as running: it has not joined a generation yet.
func (m *membership) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.memberState = memberState{running: true}
}

// stop marks Run as returned.
func (m *membership) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running, m.live = false, false
}

// stopRequested marks the soft stop: the workers finish the batch in hand.
func (m *membership) stopRequested() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopping = true
}

// setPartitions records the readings topic's partition count.
func (m *membership) setPartitions(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.partitions = n
}

// joinFailed records a failed attempt to join the next generation.
func (m *membership) joinFailed(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.joinErr = err
}

// joined records a new generation and its partitions; members (or
// membersErr) is the group's size, asked only when assigned is empty.
func (m *membership) joined(gen int32, assigned []int, members int, membersErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen, m.joinedOnce, m.live = gen, true, true
	m.assigned, m.restored = slices.Clone(assigned), 0
	m.members, m.membersErr = members, membersErr
	m.left, m.joinErr = nil, nil
}

// workerRunning records that a worker of gen restored its partition's state
// and processes it.
func (m *membership) workerRunning(gen int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen {
		m.restored++
	}
}

// workerLeft records that a worker of gen left it on err (which ends the
// generation: kafka-go ends it when any of its functions returns).
func (m *membership) workerLeft(gen int32, partition int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	m.live = false
	if m.left == nil {
		m.left = fmt.Errorf("partition %d: %w", partition, err)
	}
}

// ended records that gen ended (a rebalance, a lost coordinator, a worker
// that left).
func (m *membership) ended(gen int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen == m.gen {
		m.live = false
	}
}

// ready is Ready's answer: nil while the processor is a member of a live
// generation whose workers all restored their state and run (or, owning
// no partition, while it is a standby in a group with at least as many
// members as partitions); otherwise an error saying why not.
func (m *membership) ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case !m.running:
		return ErrNotRunning
	case m.stopping:
		return fmt.Errorf("%w: stopping (finishing the batch in hand)", ErrNotReady)
	case m.partitions == 0:
		return fmt.Errorf("%w: reading the partition counts of the readings and changelog topics", ErrNotReady)
	case !m.joinedOnce && m.joinErr != nil:
		return fmt.Errorf("%w: joining the consumer group: %v", ErrNotReady, m.joinErr)
	case !m.joinedOnce:
		return fmt.Errorf("%w: joining the consumer group", ErrNotReady)
	case !m.live:
		return fmt.Errorf("%w: %s", ErrNotReady, m.endedReason())
	case m.restored < len(m.assigned):
		return fmt.Errorf("%w: generation %d: restoring the state of partitions %v (%d of %d running)",
			ErrNotReady, m.gen, m.assigned, m.restored, len(m.assigned))
	case len(m.assigned) == 0:
		return m.standbyErr()
	}
	return nil
}

// endedReason describes an ended generation and the rejoin in progress.
func (m *membership) endedReason() string {
	what := fmt.Sprintf("generation %d ended", m.gen)
	if m.left != nil {
		what += ": " + m.left.Error()
	}
	switch {
	case m.joinErr != nil:
		return what + "; joining the consumer group: " + m.joinErr.Error()
	case m.left != nil:
		return what + "; rebalancing"
	default:
		return "rebalancing (" + what + ")"
	}
}

// standbyErr is nil for a member without partitions in a group with at
// least as many members as partitions (a healthy standby, ready to take a
// partition over); otherwise the assignment is wrong and it says so.
func (m *membership) standbyErr() error {
	if m.membersErr != nil {
		return fmt.Errorf("%w: generation %d: no partitions assigned (group members unknown: %v; %d partitions)",
			ErrNotReady, m.gen, m.membersErr, m.partitions)
	}
	if m.partitions > 0 && m.members >= m.partitions {
		return nil
	}
	return fmt.Errorf("%w: generation %d: no partitions assigned (%d members for %d partitions)",
		ErrNotReady, m.gen, m.members, m.partitions)
}
