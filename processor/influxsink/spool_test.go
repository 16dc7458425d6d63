package influxsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spoolBytesOnDisk sums the spool files.
func spoolBytesOnDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, f := range spoolFiles(t, dir) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// batchOf returns n bytes of line protocol, lines of the measurement m.
func batchOf(m string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s,k=%d v=1 %d\n", m, i, i)
	}
	return b.Bytes()
}

// TestSpoolBoundHonoured (defect 5): with InfluxDB down the spool fills up
// to influx.spool_max_bytes and never past it; the batch that does not fit
// is refused with ErrSpoolFull at once (no request to InfluxDB), nothing of
// it is stored, and the gauges and Full say so. Once InfluxDB is back and
// the spool drained, writes are accepted again. Before the fix the spool
// took every batch.
func TestSpoolBoundHonoured(t *testing.T) {
	var requests atomic.Int64
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		if !up.Load() {
			http.Error(w, `{"code":"unavailable","message":"down"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	spool := t.TempDir()
	cfg := testConfig(t, srv.URL, spool)
	cfg.SpoolMaxBytes = minSpoolBytes
	s, reg := newSink(t, cfg)
	batch := batchOf("r", 10<<10)
	ctx := context.Background()
	accepted := 0
	var refusal error
	for i := 0; i < 20 && refusal == nil; i++ {
		before := requests.Load()
		err := s.Write(ctx, batch)
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrSpoolFull):
			refusal = err
			if n := requests.Load() - before; n != 0 {
				t.Errorf("the refused write made %d requests to InfluxDB, want none (refuse at once)", n)
			}
		default:
			t.Fatalf("write %d: %v", i, err)
		}
		if on := spoolBytesOnDisk(t, spool); on > cfg.SpoolMaxBytes {
			t.Fatalf("after write %d the spool holds %d bytes, above the limit %d", i, on, cfg.SpoolMaxBytes)
		}
		if g := metric(t, reg, "resilience_influx_spool_bytes"); int64(g) != spoolBytesOnDisk(t, spool) {
			t.Fatalf("spool_bytes gauge %v, files hold %d", g, spoolBytesOnDisk(t, spool))
		}
	}
	if refusal == nil {
		t.Fatalf("20 batches of %d bytes all accepted with a %d-byte spool", len(batch), cfg.SpoolMaxBytes)
	}
	if want := int(cfg.SpoolMaxBytes) / len(batch); accepted != want {
		t.Errorf("spool accepted %d batches, want %d (as many as fit)", accepted, want)
	}
	if !s.Full() {
		t.Error("Full() = false after a refusal")
	}
	if v := metric(t, reg, "resilience_influx_spool_limit_bytes"); int64(v) != cfg.SpoolMaxBytes {
		t.Errorf("spool_limit_bytes = %v, want %d", v, cfg.SpoolMaxBytes)
	}
	if v := metric(t, reg, "resilience_influx_spool_refused_total"); v != 1 {
		t.Errorf("spool_refused_total = %v, want 1", v)
	}

	// InfluxDB back: the drain empties the spool, writes are taken again.
	up.Store(true)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.After(failDeadline)
	for s.SpoolBytes() != 0 {
		select {
		case <-deadline:
			t.Fatalf("spool not drained: %d bytes", s.SpoolBytes())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.Write(ctx, batch); err != nil {
		t.Fatalf("write after the drain: %v", err)
	}
	if s.Full() {
		t.Error("Full() after the spool accepted again")
	}
}

// TestSpoolRefusesBelowFreeDiskFloor (defect 5): a spool write that would
// leave less than influx.spool_min_free_bytes on the disk is refused with
// ErrSpoolFull and writes no file.
func TestSpoolRefusesBelowFreeDiskFloor(t *testing.T) {
	spool := t.TempDir()
	cfg := testConfig(t, closedURL(t), spool)
	cfg.SpoolMinFreeBytes = 1 << 20
	s, _ := newSink(t, cfg)
	var free atomic.Uint64
	free.Store(1<<20 + 100) // just under the floor plus a batch
	s.free = func(string) (uint64, error) { return free.Load(), nil }
	batch := batchOf("r", 200)
	if err := s.Write(context.Background(), batch); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("Write with %d bytes free = %v, want ErrSpoolFull", free.Load(), err)
	}
	if f := spoolFiles(t, spool); len(f) != 0 {
		t.Fatalf("a refused batch left spool files %v", f)
	}
	free.Store(1 << 30)
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write with room: %v", err)
	}
	if f := spoolFiles(t, spool); len(f) != 1 {
		t.Fatalf("spool holds %v, want the accepted batch", f)
	}
}

// TestDrainWritesConcurrently (defect 5): the drain keeps several requests
// in flight (the fake InfluxDB holds the first until a second arrives).
// Before the fix the drain was serial and the first request waited alone.
func TestDrainWritesConcurrently(t *testing.T) {
	spool := t.TempDir()
	down, _ := newSink(t, testConfig(t, closedURL(t), spool))
	const files = 8
	for i := 0; i < files; i++ {
		if err := down.Write(context.Background(), batchOf(fmt.Sprintf("m%d", i), 40<<10)); err != nil {
			t.Fatal(err)
		}
	}
	down.Close()

	second := make(chan struct{})
	var once sync.Once
	var inflight, maxInflight atomic.Int64
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		if n >= 2 {
			once.Do(func() { close(second) })
		}
		select {
		case <-second:
		case <-time.After(failDeadline):
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		mu.Lock()
		got = append(got, strings.Split(string(body), "\n")...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := testConfig(t, srv.URL, spool)
	cfg.Timeout = 2 * failDeadline
	cfg.DrainBatchBytes = 64 << 10 // one 40 KiB file per request
	s, _ := newSink(t, cfg)
	if err := s.drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if m := maxInflight.Load(); m < 2 {
		t.Fatalf("at most %d drain request in flight, want several", m)
	}
	if f := spoolFiles(t, spool); len(f) != 0 {
		t.Fatalf("spool not emptied: %v", f)
	}
	want := 0
	for i := 0; i < files; i++ {
		want += bytes.Count(batchOf(fmt.Sprintf("m%d", i), 40<<10), []byte("\n"))
	}
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	if len(seen) != want {
		t.Errorf("InfluxDB received %d distinct lines, want %d", len(seen), want)
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("line %q written %d times", l, n)
		}
	}
}

// TestDrainIsolatesRefusedBatch: a merged request InfluxDB refuses as data
// (400) is retried file by file; the good batches are written, only the bad
// one is set aside under rejected/.
func TestDrainIsolatesRefusedBatch(t *testing.T) {
	spool := t.TempDir()
	down, _ := newSink(t, testConfig(t, closedURL(t), spool))
	for _, b := range []string{"good1 v=1 1\n", "bad v=x 2\n", "good2 v=3 3\n"} {
		if err := down.Write(context.Background(), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	down.Close()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		if strings.Contains(string(body), "bad") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":"invalid","message":"bad line"}`)
			return
		}
		mu.Lock()
		got = append(got, strings.Split(string(body), "\n")...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, reg := newSink(t, testConfig(t, srv.URL, spool))
	if err := s.drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
	sort.Strings(got)
	if strings.Join(got, "|") != "good1 v=1 1|good2 v=3 3" {
		t.Errorf("InfluxDB received %q, want the two good lines", got)
	}
	rej, _ := filepath.Glob(filepath.Join(spool, "rejected", "*.lp"))
	if len(rej) != 1 {
		t.Fatalf("rejected/ holds %v, want the bad batch", rej)
	}
	if b, _ := os.ReadFile(rej[0]); string(b) != "bad v=x 2\n" {
		t.Errorf("rejected batch %q", b)
	}
	if v := metric(t, reg, "resilience_influx_rejected_batches_total"); v != 1 {
		t.Errorf("rejected_batches_total = %v", v)
	}
	if f := spoolFiles(t, spool); len(f) != 0 || s.SpoolBytes() != 0 {
		t.Errorf("spool not emptied: %v, %d bytes", f, s.SpoolBytes())
	}
}
