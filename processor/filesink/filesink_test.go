package filesink

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lpFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.lp"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestWriteAppendsToDayFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "points") // created by New
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
	// 23:30 in Đà Nẵng (UTC+7) is still the previous day in UTC.
	s.now = func() time.Time { return time.Date(2026, 10, 28, 23, 30, 0, 0, time.FixedZone("ICT", 7*3600)) }
	ctx := context.Background()
	a := "reading,station=A value=1,seq=1i 1793155800000\n"
	b := "reading,station=A value=2,seq=2i 1793155860000\nreading,station=B value=3,seq=1i 1793155860000\n"
	for _, lines := range []string{a, "", b} {
		if err := s.Write(ctx, []byte(lines)); err != nil {
			t.Fatal(err)
		}
	}
	if got := lpFiles(t, dir); fmt.Sprint(got) != "[2026-10-28.lp]" {
		t.Fatalf("files %v, want [2026-10-28.lp] (UTC day)", got)
	}
	// Readable while the sink is open: each Write was fsynced.
	if got := readFile(t, filepath.Join(dir, "2026-10-28.lp")); got != a+b {
		t.Fatalf("content\n%q\nwant\n%q", got, a+b)
	}
}

func TestDayRotation(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 10, 28, 23, 59, 59, 0, time.UTC)
	s.now = func() time.Time { return day }
	ctx := context.Background()
	write := func(l string) {
		t.Helper()
		if err := s.Write(ctx, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	write("a 1\n")
	day = day.Add(time.Second) // midnight UTC
	write("b 2\n")
	write("c 3\n")
	day = day.Add(48 * time.Hour)
	write("d 4\n")
	day = time.Date(2026, 10, 29, 12, 0, 0, 0, time.UTC) // back to a day already written (clock step)
	write("e 5\n")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	want := map[string]string{
		"2026-10-28.lp": "a 1\n",
		"2026-10-29.lp": "b 2\nc 3\ne 5\n",
		"2026-10-31.lp": "d 4\n",
	}
	if got := lpFiles(t, dir); fmt.Sprint(got) != "[2026-10-28.lp 2026-10-29.lp 2026-10-31.lp]" {
		t.Fatalf("files %v", got)
	}
	for name, content := range want {
		if got := readFile(t, filepath.Join(dir, name)); got != content {
			t.Errorf("%s = %q, want %q", name, got, content)
		}
	}
}

// A new Sink on the same directory (a restart) appends; it never truncates.
func TestReopenAppends(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	for i := range 3 {
		s, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.now = now
		if err := s.Write(context.Background(), fmt.Appendf(nil, "run %d\n", i)); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, filepath.Join(dir, "2026-01-02.lp")); got != "run 0\nrun 1\nrun 2\n" {
		t.Fatalf("content %q", got)
	}
}

// Concurrent writers never interleave inside a batch (run with -race).
func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var clock sync.Mutex
	day := time.Date(2026, 10, 28, 23, 0, 0, 0, time.UTC)
	s.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return day }
	const writers, batches = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for i := range batches {
				if w == 0 && i == batches/2 {
					clock.Lock()
					day = day.Add(2 * time.Hour) // rotate mid-run
					clock.Unlock()
				}
				batch := fmt.Sprintf("m,w=%d v=%di 1\nm,w=%d v=%di 2\n", w, i, w, i)
				if err := s.Write(context.Background(), []byte(batch)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []string
	for _, name := range lpFiles(t, dir) {
		all = append(all, strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(dir, name)), "\n"), "\n")...)
	}
	if len(all) != writers*batches*2 {
		t.Fatalf("%d lines, want %d", len(all), writers*batches*2)
	}
	seen := map[string]bool{}
	for i := 0; i < len(all); i += 2 {
		first, second := all[i], all[i+1]
		if !strings.HasSuffix(first, " 1") || second != strings.TrimSuffix(first, " 1")+" 2" {
			t.Fatalf("batch split or interleaved at line %d: %q / %q", i, first, second)
		}
		if seen[first] {
			t.Fatalf("line %q written twice", first)
		}
		seen[first] = true
	}
	if n := len(lpFiles(t, dir)); n != 2 {
		t.Errorf("%d day files, want 2 (one rotation)", n)
	}
}

func TestWriteErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.now = func() time.Time { return time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC) }
	// A directory where the day file should be makes the open fail.
	if err := os.Mkdir(filepath.Join(dir, "2026-10-28.lp"), 0o750); err != nil {
		t.Fatal(err)
	}
	err = s.Write(context.Background(), []byte("x 1\n"))
	if err == nil || !strings.Contains(err.Error(), "2026-10-28.lp") {
		t.Fatalf("Write err = %v, want one naming the file", err)
	}
}

func TestNewFailsOnFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(f, "sub")); err == nil || !strings.HasPrefix(err.Error(), "filesink:") {
		t.Fatalf("New under a file: err = %v", err)
	}
}

// The files are valid input for `influx write --precision ms`: every batch
// lands whole and newline-terminated.
func TestBatchesNewlineTerminated(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC) }
	for _, l := range []string{"a v=1 1\n", "b v=2 2\nc v=3 3\n"} {
		if err := s.Write(context.Background(), []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	got := []byte(readFile(t, filepath.Join(dir, "2026-10-28.lp")))
	if !bytes.HasSuffix(got, []byte("\n")) || bytes.Count(got, []byte("\n")) != 3 {
		t.Fatalf("content %q", got)
	}
}
