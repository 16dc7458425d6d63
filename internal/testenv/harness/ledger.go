package harness

import (
	"slices"
	"sync"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// FateKind is what must become of a published message.
type FateKind int

// Fates.
const (
	// Stored: the reading is in InfluxDB exactly once, under its seq.
	Stored FateKind = iota
	// DeadLettered: the message is on the dead-letter topic with one of
	// Fate.Reasons, and none of its seqs is in InfluxDB.
	DeadLettered
	// Overwritten: the reading reaches the processor but a later reading of
	// the same station with the same timestamp replaces its InfluxDB point
	// (same measurement, tags and time), so its seq is not there.
	Overwritten
)

func (k FateKind) String() string {
	switch k {
	case Stored:
		return "stored"
	case DeadLettered:
		return "dead-lettered"
	case Overwritten:
		return "overwritten"
	}
	return "?"
}

// Fate is the expected outcome of one message.
type Fate struct {
	Kind FateKind
	// Reasons are the acceptable dead-letter reasons (DeadLettered).
	Reasons []schemas.Reason
	// MayBeRefused: the broker may refuse the message (too large, a
	// wildcard in the topic), in which case it is nowhere.
	MayBeRefused bool
}

// Entry is one message the load published.
type Entry struct {
	Station string
	Seq     uint64
	TS      time.Time
	Level   float64
	Topic   string
	Payload []byte
	Fate    Fate
	// Label names special messages (the barrage kind, a clock fault).
	Label string
	// Created is when the message was generated (the device's clock);
	// FirstSent the first PUBLISH, Acked the PUBACK (zero: never acked).
	Created, FirstSent, Acked time.Time
	Attempts                  int
	// NoRetry: sent once; the broker may drop the connection for it.
	NoRetry bool
}

// Ledger records every message the load published.
type Ledger struct {
	mu      sync.Mutex
	entries []*Entry
}

// add records e (in publish order per station).
func (l *Ledger) add(e *Entry) {
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// update runs f on e under the ledger's lock.
func (l *Ledger) update(e *Entry, f func(*Entry)) {
	l.mu.Lock()
	f(e)
	l.mu.Unlock()
}

// Entries returns copies of every entry, in the order they were generated.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, len(l.entries))
	for i, e := range l.entries {
		out[i] = *e
	}
	return out
}

// Count returns how many entries have fate k.
func (l *Ledger) Count(k FateKind) int {
	n := 0
	for _, e := range l.Entries() {
		if e.Fate.Kind == k {
			n++
		}
	}
	return n
}

// Unacked returns the entries never acknowledged by the broker (excluding
// NoRetry ones, which the broker may refuse).
func (l *Ledger) Unacked() []Entry {
	var out []Entry
	for _, e := range l.Entries() {
		if e.Acked.IsZero() && !e.NoRetry {
			out = append(out, e)
		}
	}
	return out
}

// StoredSeqs returns, per station, the seqs that must be in InfluxDB.
func (l *Ledger) StoredSeqs() map[string][]uint64 {
	out := map[string][]uint64{}
	for _, e := range l.Entries() {
		if e.Fate.Kind == Stored {
			out[e.Station] = append(out[e.Station], e.Seq)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}
