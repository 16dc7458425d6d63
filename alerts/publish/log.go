package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/resilience-project/resilience/alerts/cap"
)

// ErrCorrupt is returned by OpenFile for a log line that is not a record
// (other than a torn last line).
var ErrCorrupt = errors.New("publish: corrupt log")

// RecordKind tells an issued document from a discarded draft.
type RecordKind string

// Record kinds.
const (
	// KindIssued (the zero value) is an issued document.
	KindIssued RecordKind = ""
	// KindDiscard is a draft a publisher discarded (no document).
	KindDiscard RecordKind = "discard"
)

// Record is one entry of the log: an issued document or a discarded
// draft.
type Record struct {
	Kind RecordKind `json:"kind,omitempty"`
	// Identifier is the document's (empty for a discard).
	Identifier string      `json:"identifier,omitempty"`
	AlertID    string      `json:"alert_id"`
	Seq        int         `json:"seq,omitempty"`
	MsgType    cap.MsgType `json:"msg_type"`
	// AllClear marks the all-clear (an Update about the resolved alert).
	AllClear bool `json:"all_clear,omitempty"`
	// EventID is the alert event the document reports (or the discarded
	// draft was about), EventAt its time; Level is its level.
	EventID string    `json:"event_id"`
	EventAt time.Time `json:"event_at"`
	Level   int       `json:"level"`
	// Sent is when it was issued (or discarded); ApprovedBy who did it.
	Sent       time.Time `json:"sent"`
	ApprovedBy string    `json:"approved_by"`
	// Reason is a discard's.
	Reason   string `json:"reason,omitempty"`
	Headline string `json:"headline,omitempty"`
	// Proposal is a random id per Append: of two records with the same
	// identifier (two replicas approving at once) the first in the log is
	// the issued one, and each writer tells whether it was its own.
	Proposal string `json:"proposal,omitempty"`
	// Doc is the CAP document exactly as issued.
	Doc []byte `json:"doc,omitempty"`
}

// check reports whether r is a usable log record.
func (r Record) check() error {
	switch {
	case r.AlertID == "":
		return errors.New("no alert_id")
	case r.Kind == KindIssued && r.Identifier == "":
		return errors.New("issued record without identifier")
	case r.Kind != KindIssued && r.Kind != KindDiscard:
		return fmt.Errorf("kind %q", r.Kind)
	}
	return nil
}

// Log keeps the issued documents and discarded drafts durably.
type Log interface {
	// Append stores r durably before it returns. A Log shared by
	// replicas returns ErrAlreadyIssued (wrapped) when an earlier record
	// has r's identifier.
	Append(ctx context.Context, r Record) error
	// Records returns every stored record, oldest first.
	Records(ctx context.Context) ([]Record, error)
}

// FileLog is a Log in one append-only file of JSON lines, fsynced after
// every record. It suits one replica (its process is the only writer, so
// Append never meets an earlier record of the same identifier: Approve
// runs one at a time).
type FileLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
	size int64 // bytes of complete records
	recs []Record
}

var _ Log = (*FileLog)(nil)

// OpenFile opens (or creates) the log at path. A torn last line (a crash
// mid-write, never fsynced and so never acknowledged) is cut off; any other
// undecodable line is ErrCorrupt.
func OpenFile(path string) (*FileLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("publish log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("publish log %s: %w", path, err)
	}
	l := &FileLog{path: path, f: f}
	good, err := l.load()
	if err == nil {
		err = f.Truncate(good)
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	l.size = good
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("publish log %s: %w", path, err)
	}
	return l, nil
}

func (l *FileLog) load() (int64, error) {
	r := bufio.NewReaderSize(l.f, 64<<10)
	var off int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err == io.EOF {
			return off, nil // a partial last line is torn: dropped
		}
		if err != nil {
			return off, err
		}
		var rec Record
		if err := json.Unmarshal(bytes.TrimSpace(b), &rec); err != nil {
			return off, fmt.Errorf("line %d: %w: %v", line, ErrCorrupt, err)
		}
		if err := rec.check(); err != nil {
			return off, fmt.Errorf("line %d: %w: %v", line, ErrCorrupt, err)
		}
		l.recs = append(l.recs, rec)
		off += int64(len(b))
	}
}

// Append implements Log.
func (l *FileLog) Append(_ context.Context, r Record) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("publish log %s: alert %s: %w", l.path, r.AlertID, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("publish log %s: %s: %w", l.path, r.Identifier, err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		l.rewind()
		return fmt.Errorf("publish log %s: %s: write: %w", l.path, r.Identifier, err)
	}
	if err := l.f.Sync(); err != nil {
		l.rewind()
		return fmt.Errorf("publish log %s: %s: fsync: %w", l.path, r.Identifier, err)
	}
	l.size += int64(len(b))
	l.recs = append(l.recs, r)
	return nil
}

// rewind cuts a failed append off, so that the next record does not
// follow a torn line (best effort: a failure here leaves a torn line that
// OpenFile reports as ErrCorrupt rather than losing it silently).
func (l *FileLog) rewind() {
	if l.f.Truncate(l.size) == nil {
		_, _ = l.f.Seek(l.size, io.SeekStart)
	}
}

// Records implements Log.
func (l *FileLog) Records(context.Context) ([]Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...), nil
}

// Close closes the file.
func (l *FileLog) Close() error { return l.f.Close() }
