package nflog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/resilience-project/resilience/alerts/nflog"
)

// FuzzOpenFile feeds arbitrary bytes as a log file: opening never panics,
// fails only with ErrCorrupt, and a log that opens accepts a write and
// reopens with the same entries.
func FuzzOpenFile(f *testing.F) {
	f.Add([]byte(`{"e":{"v":1,"id":"n1","target":"t","members":["m"],"state":"pending","at":"2026-10-28T03:00:00Z","payload":"e30="}}` + "\n"))
	f.Add([]byte(`{"del":"n1"}` + "\n" + `{"e":{"v":1,"id":"n2","target":"t","members":["m"],"state":"sent","at":"2026-10-28T03:00:00Z"}}` + "\n{\"e\":"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "nflog.jsonl")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := nflog.OpenFile(path, 0)
		if err != nil {
			if !errors.Is(err, nflog.ErrCorrupt) {
				t.Fatalf("OpenFile error %v is not ErrCorrupt", err)
			}
			return
		}
		before := len(l.Pending())
		if err := l.Intend(context.Background(), nflog.Entry{ID: "fuzz-new", Target: "t", Members: []string{"fuzz"}}); err != nil && !errors.Is(err, nflog.ErrFinal) {
			t.Fatalf("Intend: %v", err)
		}
		after := len(l.Pending())
		l.Close()
		l, err = nflog.OpenFile(path, 0)
		if err != nil {
			t.Fatalf("reopen after a write: %v", err)
		}
		defer l.Close()
		if got := len(l.Pending()); got != after || after < before {
			t.Fatalf("pending %d before, %d after the write, %d after reopening", before, after, got)
		}
	})
}
