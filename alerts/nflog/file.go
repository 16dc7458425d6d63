package nflog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File is a Log in one append-only file of JSON lines, fsynced after every
// record, rewritten by Compact. It suits one replica; replicas that must
// share the log use Kafka.
type File struct {
	path      string
	retention time.Duration
	idx       *index
	mu        sync.Mutex // serialises writes
	f         *os.File
}

var _ Log = (*File)(nil)

type fileRecord struct {
	Del string `json:"del,omitempty"`
	E   *Entry `json:"e,omitempty"`
}

// OpenFile opens (or creates) the log at path. A torn last line (a crash
// mid-write, never fsynced and so never acknowledged) is cut off; any other
// undecodable line is ErrCorrupt. retention <= 0 means DefaultRetention.
func OpenFile(path string, retention time.Duration) (*File, error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("nflog %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nflog %s: %w", path, err)
	}
	l := &File{path: path, retention: retention, idx: newIndex(), f: f}
	good, err := l.load()
	if err == nil {
		err = f.Truncate(good)
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("nflog %s: %w", path, err)
	}
	return l, nil
}

// load reads every complete line and returns the offset after the last one.
func (l *File) load() (int64, error) {
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
		var rec fileRecord
		if err := json.Unmarshal(bytes.TrimSpace(b), &rec); err != nil {
			return off, fmt.Errorf("line %d: %w: %v", line, ErrCorrupt, err)
		}
		switch {
		case rec.Del != "":
			l.idx.apply(rec.Del, nil)
		case rec.E != nil:
			raw, _ := json.Marshal(rec.E)
			e, err := decode(raw)
			if err != nil {
				return off, fmt.Errorf("line %d: %w", line, err)
			}
			l.idx.apply(e.ID, &e)
		default:
			return off, fmt.Errorf("line %d: %w: empty record", line, ErrCorrupt)
		}
		off += int64(len(b))
	}
}

func (l *File) append(recs ...fileRecord) error {
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("nflog %s: write: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("nflog %s: fsync: %w", l.path, err)
	}
	return nil
}

// Intend implements Log.
func (l *File) Intend(_ context.Context, e Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, err := l.idx.checkIntent(e)
	if err != nil {
		return err
	}
	if err := l.append(fileRecord{E: &e}); err != nil {
		return fmt.Errorf("nflog: intent %s for %s: %w", e.ID, e.Target, err)
	}
	l.idx.apply(e.ID, &e)
	return nil
}

// MarkSent implements Log.
func (l *File) MarkSent(_ context.Context, id string, at time.Time) error {
	return l.finish(id, Sent, at, "")
}

// Abandon implements Log.
func (l *File) Abandon(_ context.Context, id string, at time.Time, reason string) error {
	return l.finish(id, Abandoned, at, reason)
}

func (l *File) finish(id string, st State, at time.Time, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, err := l.idx.final(id, st, at, reason)
	if err != nil {
		return err
	}
	if err := l.append(fileRecord{E: &e}); err != nil {
		return fmt.Errorf("nflog: %s %s for %s: %w", st, id, e.Target, err)
	}
	l.idx.apply(id, &e)
	return nil
}

// Get implements Log.
func (l *File) Get(id string) (Entry, bool) { return l.idx.get(id) }

// Has implements Log.
func (l *File) Has(target, member string) bool { return l.idx.has(target, member) }

// Pending implements Log.
func (l *File) Pending() []Entry { return l.idx.pending() }

// Compact drops final entries older than the retention and rewrites the
// file with the live entries (write to a temporary file, fsync, rename,
// fsync the directory).
func (l *File) Compact(_ context.Context, now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	drop := l.idx.expired(now.Add(-l.retention))
	for _, id := range drop {
		l.idx.apply(id, nil)
	}
	tmp := l.path + ".compact"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("nflog %s: compact: %w", l.path, err)
	}
	old := l.f
	l.f = f
	entries := l.idx.all()
	recs := make([]fileRecord, len(entries))
	for i := range entries {
		recs[i] = fileRecord{E: &entries[i]}
	}
	err = l.append(recs...)
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(l.path))
	}
	if err != nil {
		l.f = old
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("nflog %s: compact: %w", l.path, err)
	}
	old.Close()
	return len(drop), nil
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
