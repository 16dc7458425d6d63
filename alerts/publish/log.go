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

// Record is one issued document.
type Record struct {
	Identifier string      `json:"identifier"`
	AlertID    string      `json:"alert_id"`
	Seq        int         `json:"seq"`
	MsgType    cap.MsgType `json:"msg_type"`
	// EventID is the alert event the document reports; Level is its
	// level.
	EventID    string    `json:"event_id"`
	Level      int       `json:"level"`
	Sent       time.Time `json:"sent"`
	ApprovedBy string    `json:"approved_by"`
	Headline   string    `json:"headline"`
	// Doc is the CAP document exactly as issued.
	Doc []byte `json:"doc"`
}

// Log keeps the issued documents durably.
type Log interface {
	// Append stores r durably before it returns.
	Append(ctx context.Context, r Record) error
	// Records returns every stored record, oldest first.
	Records(ctx context.Context) ([]Record, error)
}

// FileLog is a Log in one append-only file of JSON lines, fsynced after
// every record. It suits one replica.
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
		if err := json.Unmarshal(bytes.TrimSpace(b), &rec); err != nil || rec.Identifier == "" {
			return off, fmt.Errorf("line %d: %w: %v", line, ErrCorrupt, err)
		}
		l.recs = append(l.recs, rec)
		off += int64(len(b))
	}
}

// Append implements Log.
func (l *FileLog) Append(_ context.Context, r Record) error {
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
