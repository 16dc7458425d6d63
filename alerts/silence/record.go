package silence

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RecordVersion is the version of Record.
const RecordVersion = 1

// RecordType is Record.Type: how a silence record is told apart from an
// operator action (schemas.AlertAction, which has no "record" field) on
// the shared alerts.actions topic.
const RecordType = "silence"

// Record kinds.
const (
	KindCreate = "create"
	KindExpire = "expire"
)

// ErrBadRecord is wrapped by DecodeRecord's error for a record that is not
// a valid silence record.
var ErrBadRecord = errors.New("bad silence record")

// Record is one silence event as produced to the compacted alerts.actions
// topic under Key(id). It carries the whole silence after the event (a
// snapshot, not a delta), so compaction, which keeps only the last record
// of a key, keeps what the silence is.
type Record struct {
	V    int    `json:"v"`
	Type string `json:"record"`
	Kind string `json:"kind"`
	// By is who did it (the author for a create), At when.
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Silence Silence   `json:"silence"`
}

// Key is the Kafka key of silence id's records.
func Key(id string) string { return "silence:" + id }

// IsRecord reports whether b is a silence record (its "record" field is
// RecordType), without validating it.
func IsRecord(b []byte) bool {
	var probe struct {
		Type string `json:"record"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Type == RecordType
}

// DecodeRecord parses and validates a silence record.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	switch {
	case r.V != RecordVersion:
		return r, fmt.Errorf("%w: v: %d, want %d", ErrBadRecord, r.V, RecordVersion)
	case r.Type != RecordType:
		return r, fmt.Errorf("%w: record: %q, want %q", ErrBadRecord, r.Type, RecordType)
	case r.Kind != KindCreate && r.Kind != KindExpire:
		return r, fmt.Errorf("%w: kind: %q is not one of %s, %s", ErrBadRecord, r.Kind, KindCreate, KindExpire)
	case r.By == "":
		return r, fmt.Errorf("%w: by: required", ErrBadRecord)
	}
	if err := r.Silence.Validate(); err != nil {
		return r, fmt.Errorf("%w: silence: %w", ErrBadRecord, err)
	}
	return r, nil
}

// Encode returns the record's JSON.
func (r Record) Encode() ([]byte, error) {
	r.V, r.Type = RecordVersion, RecordType
	return json.Marshal(r)
}
