package filesink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Sink appends line protocol to daily files.
type Sink struct {
	dir string
	now func() time.Time

	mu   sync.Mutex
	day  string
	file *os.File
}

// New opens a sink writing under dir.
func New(dir string) (*Sink, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("filesink: %w", err)
	}
	return &Sink{dir: dir, now: time.Now}, nil
}

// Dir is where the files are.
func (s *Sink) Dir() string { return s.dir }

// Write appends lines and fsyncs. It is safe for concurrent use.
func (s *Sink) Write(_ context.Context, lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	day := s.now().UTC().Format("2006-01-02")
	if s.file == nil || day != s.day {
		if s.file != nil {
			s.file.Close()
		}
		name := filepath.Join(s.dir, day+".lp")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("filesink %s: %w", name, err)
		}
		// A new file's directory entry must be durable too, or the fsynced
		// lines can vanish with it on power loss.
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return fmt.Errorf("filesink %s: %w", name, err)
		}
		s.file, s.day = f, day
	}
	if _, err := s.file.Write(lines); err != nil {
		return fmt.Errorf("filesink %s: %w", s.file.Name(), err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("filesink %s: %w", s.file.Name(), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the current file.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
