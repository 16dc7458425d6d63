package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrClosed is returned by Append after Close, and after a failed write
// that could not be rolled back (the log refuses to append after a torn
// line).
var ErrClosed = errors.New("audit: log closed")

// ErrInvalidRecord is returned by Append for a record without actor or
// action, or one whose line would exceed MaxLine.
var ErrInvalidRecord = errors.New("audit: invalid record")

// Options configure a Log.
type Options struct {
	// Now is the clock (time.Now when nil); entries carry it in UTC.
	Now func() time.Time
}

// Log is an open audit log. Append is safe for concurrent use.
type Log struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
	head Head
	err  error // set once the log can no longer be appended to
}

// HeadPath is the head file kept next to the log at path.
func HeadPath(path string) string { return path + ".head" }

// Open opens (or creates) the log at path, verifies its chain (and the head
// file, when there is one) and positions for appending. A torn last line
// (an append that crashed before its fsync returned, so never
// acknowledged) is cut off. A broken chain is an error matching ErrBroken:
// the log is not appended to until someone looks at it.
func Open(path string, o Options) (*Log, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	l := &Log{path: path, now: o.Now, f: f}
	if err := l.load(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// load verifies the file, cuts a torn tail and records size and head.
func (l *Log) load() error {
	data, err := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<62))
	if err != nil {
		return fmt.Errorf("audit: read %s: %w", l.path, err)
	}
	torn := len(data)
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	torn -= len(data)
	var head Head
	want, haveHead, err := ReadHead(HeadPath(l.path))
	switch {
	case err != nil:
		return err
	case haveHead:
		head, err = VerifyHead(bytes.NewReader(data), want)
	default:
		head, err = Verify(bytes.NewReader(data))
	}
	if err != nil {
		return fmt.Errorf("audit: %s: %w", l.path, err)
	}
	if torn > 0 {
		if err := l.f.Truncate(int64(len(data))); err != nil {
			return fmt.Errorf("audit: %s: cut torn last line (%d bytes): %w", l.path, torn, err)
		}
	}
	l.size, l.head = int64(len(data)), head
	if !haveHead || want != head {
		return writeHead(HeadPath(l.path), head)
	}
	return nil
}

// Head is the seq and hash of the last entry.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Append writes rec as the next entry, fsyncs it, then replaces the head
// file, and returns the entry. On a failed write it cuts the partial line
// off again, so the next Append continues the chain.
func (l *Log) Append(rec Record) (Entry, error) {
	if rec.Actor == "" || rec.Action == "" {
		return Entry{}, fmt.Errorf("%w: actor %q action %q: both are required", ErrInvalidRecord, rec.Actor, rec.Action)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return Entry{}, l.err
	}
	e := Entry{Seq: l.head.Seq + 1, At: l.now().UTC(), Actor: rec.Actor, Role: rec.Role, Action: rec.Action,
		Target: rec.Target, PrevHash: l.head.Hash}
	if len(rec.Detail) > 0 {
		e.Detail = maps.Clone(rec.Detail)
	}
	e, line, err := seal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if len(line) > MaxLine+1 {
		return Entry{}, fmt.Errorf("%w: seq %d action %s: line of %d bytes over %d", ErrInvalidRecord, e.Seq, e.Action, len(line), MaxLine)
	}
	if err := l.write(line); err != nil {
		return Entry{}, fmt.Errorf("audit: %s: append seq %d action %s by %s: %w", l.path, e.Seq, e.Action, e.Actor, err)
	}
	l.head = Head{Seq: e.Seq, Hash: e.Hash}
	if err := writeHead(HeadPath(l.path), l.head); err != nil {
		// The entry is durable; the head lags by one, which VerifyHead
		// accepts. The next append rewrites the head.
		return e, err
	}
	return e, nil
}

// write appends line and fsyncs; on failure it truncates back.
func (l *Log) write(line []byte) error {
	_, err := l.f.Write(line)
	if err == nil {
		err = l.f.Sync()
	}
	if err == nil {
		l.size += int64(len(line))
		return nil
	}
	if terr := l.f.Truncate(l.size); terr != nil {
		l.err = fmt.Errorf("%w: %s: rollback of a failed append: %w", ErrClosed, l.path, terr)
	}
	return err
}

// Close closes the file; Append returns ErrClosed afterwards.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if l.err == nil {
		l.err = ErrClosed
	}
	if err != nil {
		return fmt.Errorf("audit: close %s: %w", l.path, err)
	}
	return nil
}

// ReadHead reads a head file; ok is false when there is none.
func ReadHead(path string) (h Head, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Head{}, false, nil
	}
	if err != nil {
		return Head{}, false, fmt.Errorf("audit: read head %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || len(h.Hash) != len(GenesisHash) {
		return Head{}, false, fmt.Errorf("audit: head %s: %w: not a head {seq, hash}", path, ErrBroken)
	}
	return h, true, nil
}

// writeHead replaces the head file atomically (temporary file, fsync,
// rename, fsync of the directory).
func writeHead(path string, h Head) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("audit: encode head seq %d: %w", h.Seq, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("audit: write head seq %d: %w", h.Seq, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("audit: write head %s seq %d: %w", path, h.Seq, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
