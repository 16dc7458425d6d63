package nflog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// State of a notification in the log.
type State string

// States. Pending is the intent written before the send; Sent and Abandoned
// are final.
const (
	Pending   State = "pending"
	Sent      State = "sent"
	Abandoned State = "abandoned"
)

// MaxPayload bounds the payload of one entry (under the Kafka producer's
// message limit with room for the envelope).
const MaxPayload = 256 << 10

// DefaultRetention is how long final entries are kept before compaction
// drops them. It must exceed how far back the alerts service may replay
// the alerts topic: an event replayed after its entry was dropped is
// notified again.
const DefaultRetention = 7 * 24 * time.Hour

// Sentinel errors.
var (
	// ErrFinal is returned by Intend for an id that is already sent or
	// abandoned: the caller must not send it again.
	ErrFinal = errors.New("notification already final")
	// ErrUnknown is returned by MarkSent and Abandon for an id without intent.
	ErrUnknown = errors.New("notification not in the log")
	// ErrTooLarge is returned by Intend for a payload over MaxPayload.
	ErrTooLarge = errors.New("notification payload too large")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("corrupt notification log record")
)

// Entry is one notification: its idempotency key (ID), the channel it goes
// to (Target), the alert events it carries (Members, see Member) and, while
// pending, the exact payload to resend after a crash.
type Entry struct {
	V       int       `json:"v"`
	ID      string    `json:"id"`
	Target  string    `json:"target"`
	Members []string  `json:"members"`
	State   State     `json:"state"`
	At      time.Time `json:"at"`
	Payload []byte    `json:"payload,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// Member names one state change of one alert: the alert id and event id.
func Member(alertID, eventID string) string { return alertID + "|" + eventID }

// Key is the deterministic notification id of target, escalation tier,
// repeat slot (0 for a first notification or an update; for a repeat, a
// number that is the same when the repeat is decided again after a crash)
// and members (in any order): the same notification decided again after a
// crash gets the same id.
func Key(target string, tier int, repeat int64, members []string) string {
	ms := slices.Clone(members)
	slices.Sort(ms)
	h := sha256.New()
	h.Write([]byte(target))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(tier) + "/" + strconv.FormatInt(repeat, 10)))
	for _, m := range ms {
		h.Write([]byte{0})
		h.Write([]byte(m))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Log is the durable notification log (outbox). Every method that records
// returns only once the record is durable (fsynced, or acknowledged by all
// in-sync Kafka replicas).
//
// The protocol, and what it guarantees: Intend before sending, MarkSent
// after the channel confirmed. A crash between the two leaves a Pending
// entry; on restart Pending lists it and the caller resends its payload
// with the same ID. So no notification is lost, and a notification is
// delivered twice only when the crash fell between the channel's delivery
// and MarkSent; then the second delivery carries the same idempotency key,
// which the receiver (or the channel, e.g. the Maildir by Message-ID, the
// siren by command id) deduplicates on. A decision is never taken twice:
// Has reports members already in a pending or final entry for a target.
type Log interface {
	Intend(ctx context.Context, e Entry) error
	MarkSent(ctx context.Context, id string, at time.Time) error
	Abandon(ctx context.Context, id string, at time.Time, reason string) error
	Get(id string) (Entry, bool)
	// Has reports whether member was already given to target (pending or final).
	Has(target, member string) bool
	// Pending lists the intents without a final record, oldest first.
	Pending() []Entry
	// Compact drops final entries older than the retention at now.
	Compact(ctx context.Context, now time.Time) (int, error)
	Close() error
}

// index is the in-memory state both implementations rebuild from their
// records; it is safe for concurrent use.
type index struct {
	mu      sync.RWMutex
	entries map[string]Entry
	members map[string]string // target \x00 member → id
}

func newIndex() *index {
	return &index{entries: map[string]Entry{}, members: map[string]string{}}
}

// apply folds in a record (a nil entry with id is a tombstone).
func (x *index) apply(id string, e *Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.entries[id]; ok {
		for _, m := range old.Members {
			if x.members[old.Target+"\x00"+m] == id {
				delete(x.members, old.Target+"\x00"+m)
			}
		}
	}
	if e == nil {
		delete(x.entries, id)
		return
	}
	x.entries[id] = *e
	for _, m := range e.Members {
		x.members[e.Target+"\x00"+m] = id
	}
}

func (x *index) get(id string) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.entries[id]
	return e, ok
}

func (x *index) has(target, member string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.members[target+"\x00"+member]
	return ok
}

func (x *index) pending() []Entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []Entry
	for _, e := range x.entries {
		if e.State == Pending {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// expired lists final entries older than cutoff.
func (x *index) expired(cutoff time.Time) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for id, e := range x.entries {
		if e.State != Pending && e.At.Before(cutoff) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (x *index) all() []Entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]Entry, 0, len(x.entries))
	for _, e := range x.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// checkIntent validates a new intent against the index.
func (x *index) checkIntent(e Entry) (Entry, error) {
	if e.ID == "" || e.Target == "" || len(e.Members) == 0 {
		return e, fmt.Errorf("nflog: intent %q for %q: id, target and members are required", e.ID, e.Target)
	}
	if len(e.Payload) > MaxPayload {
		return e, fmt.Errorf("nflog: intent %s for %s: %w (%d bytes, max %d)", e.ID, e.Target, ErrTooLarge, len(e.Payload), MaxPayload)
	}
	if old, ok := x.get(e.ID); ok && old.State != Pending {
		return e, fmt.Errorf("nflog: intent %s for %s: %w (%s at %s)", e.ID, e.Target, ErrFinal, old.State, old.At.Format(time.RFC3339))
	}
	e.V, e.State = 1, Pending
	e.Members = slices.Clone(e.Members)
	return e, nil
}

// final returns the final record for id.
func (x *index) final(id string, st State, at time.Time, reason string) (Entry, error) {
	old, ok := x.get(id)
	if !ok {
		return Entry{}, fmt.Errorf("nflog: %s %s: %w", st, id, ErrUnknown)
	}
	old.State, old.At, old.Payload, old.Reason = st, at, nil, reason
	return old, nil
}

func encode(e Entry) ([]byte, error) { return json.Marshal(e) }

func decode(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if e.V != 1 || e.ID == "" || (e.State != Pending && e.State != Sent && e.State != Abandoned) {
		return e, fmt.Errorf("%w: version %d, id %q, state %q", ErrCorrupt, e.V, e.ID, e.State)
	}
	return e, nil
}
