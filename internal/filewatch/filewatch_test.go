package filewatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPollReportsEachSettledChangeOnce: a rewrite is reported once, after
// it held still; a removal is reported once as unreadable; the file coming
// back is a change.
func TestPollReportsEachSettledChangeOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.yaml")
	write := func(s string, mod time.Time) { // atomically, as the contract asks
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mod, mod); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("a", base)
	last, err := Of(path)
	if err != nil {
		t.Fatal(err)
	}
	changes, gone := make(chan struct{}, 10), make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Poll(ctx, path, 5*time.Millisecond, last, func() { changes <- struct{}{} }, func(err error) { gone <- err })
	}()
	wait := func(what string, ch any) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		switch c := ch.(type) {
		case chan struct{}:
			select {
			case <-c:
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		case chan error:
			select {
			case err := <-c:
				if !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s: %v", what, err)
				}
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		}
	}
	write("bb", base.Add(time.Minute))
	wait("change after a rewrite", changes)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wait("unreadable after a removal", gone)
	write("ccc", base.Add(2*time.Minute))
	wait("change when the file is back", changes)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 || len(gone) != 0 {
		t.Fatalf("extra reports: %d changes, %d unreadable", len(changes), len(gone))
	}
}
