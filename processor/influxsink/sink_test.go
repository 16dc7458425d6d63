package influxsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const failDeadline = 30 * time.Second

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// closedURL returns an http URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func tokenFile(t *testing.T, tok string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func testConfig(t *testing.T, url, spool string) Config {
	c := DefaultConfig()
	c.URL = url
	c.TokenFile = tokenFile(t, "test-token")
	c.Attempts = 1
	c.Timeout = time.Second
	c.SpoolDir = spool
	return c
}

func newSink(t *testing.T, cfg Config) (*Sink, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(cfg, discard(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s, reg
}

// metric reads a gauge or counter value from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		switch mf.GetType() {
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.lp"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func TestConfigValidate(t *testing.T) {
	t.Setenv("RESILIENCE_INFLUX_TOKEN", "")
	valid := func() Config {
		c := DefaultConfig()
		c.URL = "http://127.0.0.1:8086"
		c.TokenFile = "/run/secrets/influx"
		c.SpoolDir = "/var/lib/resilience/spool/influx"
		return c
	}
	cases := []struct {
		name     string
		mut      func(*Config)
		envToken bool
		want     []string // keys; nil: valid
	}{
		{"valid", func(*Config) {}, false, nil},
		{"no url: sink off, nothing else checked", func(c *Config) { *c = Config{} }, false, nil},
		{"https", func(c *Config) { c.URL = "https://influx.example:8086" }, false, nil},
		{"token from env", func(c *Config) { c.TokenFile = "" }, true, nil},
		{"tcp url", func(c *Config) { c.URL = "tcp://127.0.0.1:8086" }, false, []string{"influx.url"}},
		{"url without host", func(c *Config) { c.URL = "http://" }, false, []string{"influx.url"}},
		{"no org", func(c *Config) { c.Org = "" }, false, []string{"influx.org"}},
		{"no bucket", func(c *Config) { c.Bucket = "" }, false, []string{"influx.bucket"}},
		{"no token", func(c *Config) { c.TokenFile = "" }, false, []string{"influx.token_file"}},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, false, []string{"influx.timeout"}},
		{"zero attempts", func(c *Config) { c.Attempts = 0 }, false, []string{"influx.attempts"}},
		{"no spool dir", func(c *Config) { c.SpoolDir = "" }, false, []string{"influx.spool_dir"}},
		{"several", func(c *Config) { c.Org = ""; c.Bucket = ""; c.Attempts = -1 }, false,
			[]string{"influx.org", "influx.bucket", "influx.attempts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.envToken {
				t.Setenv("RESILIENCE_INFLUX_TOKEN", "tok")
			}
			c := valid()
			tc.mut(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors naming %v", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d errors, want %d: %v", len(lines), len(tc.want), err)
			}
			for i, k := range tc.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], k+":") {
					t.Errorf("error %d = %q, want it to start with %q", i, lines[i], k+":")
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("RESILIENCE_INFLUX_TOKEN", "")
	dir := t.TempDir()
	cfg := testConfig(t, "http://127.0.0.1:1", dir)
	cfg.URL = ""
	if _, err := New(cfg, discard(), nil); err == nil || !strings.HasPrefix(err.Error(), "influx.url:") {
		t.Errorf("New without URL: %v", err)
	}
	cfg = testConfig(t, "http://127.0.0.1:1", dir)
	cfg.TokenFile = filepath.Join(dir, "missing")
	if _, err := New(cfg, discard(), nil); err == nil || !strings.HasPrefix(err.Error(), "influx.token_file:") {
		t.Errorf("New with a missing token file: %v", err)
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, "http://127.0.0.1:1", filepath.Join(f, "spool"))
	if _, err := New(cfg, discard(), nil); err == nil || !strings.HasPrefix(err.Error(), "influx.spool_dir:") {
		t.Errorf("New with an unusable spool dir: %v", err)
	}
}

// With InfluxDB unreachable, Write returns nil once the lines are durably in
// the spool, byte for byte; a restarted sink finds them.
func TestWriteSpoolsWhenInfluxUnreachable(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "spool", "influx")
	cfg := testConfig(t, closedURL(t), spool)
	s, reg := newSink(t, cfg)
	batch := []byte("reading,station=S1 value=1.5,seq=1i 1793155800000\nreading,station=S1 value=2,seq=2i 1793155860000\n")
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write: %v (must be nil: the lines are spooled)", err)
	}
	files := spoolFiles(t, spool)
	if len(files) != 1 {
		t.Fatalf("spool holds %v, want one batch", files)
	}
	got, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, batch) {
		t.Fatalf("spooled %q, want %q", got, batch)
	}
	if v := metric(t, reg, "resilience_influx_spool_batches"); v != 1 {
		t.Errorf("spool_batches = %v, want 1", v)
	}
	if v := metric(t, reg, "resilience_influx_write_errors_total"); v != 1 {
		t.Errorf("write_errors_total = %v, want 1 (Attempts=1)", v)
	}
	if s.Healthy() {
		t.Error("Healthy() after a failed write")
	}
	if tmp, _ := filepath.Glob(filepath.Join(spool, "*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// While a batch waits, later writes queue behind it without trying
	// InfluxDB (no new write error), in order.
	batch2 := []byte("reading,station=S1 value=3,seq=3i 1793155920000\n")
	if err := s.Write(context.Background(), batch2); err != nil {
		t.Fatal(err)
	}
	if v := metric(t, reg, "resilience_influx_write_errors_total"); v != 1 {
		t.Errorf("write_errors_total = %v after queueing behind the spool, want 1", v)
	}
	files = spoolFiles(t, spool)
	if len(files) != 2 {
		t.Fatalf("spool holds %v, want two batches", files)
	}
	if got, _ := os.ReadFile(files[1]); !bytes.Equal(got, batch2) {
		t.Fatalf("second batch %q, want %q", got, batch2)
	}
	s.Close()

	// A restarted sink sees the spooled batches and numbers new ones after
	// them.
	s2, reg2 := newSink(t, cfg)
	if v := metric(t, reg2, "resilience_influx_spool_batches"); v != 2 {
		t.Fatalf("restarted sink: spool_batches = %v, want 2", v)
	}
	batch3 := []byte("reading,station=S1 value=4,seq=4i 1793155980000\n")
	if err := s2.Write(context.Background(), batch3); err != nil {
		t.Fatal(err)
	}
	files = spoolFiles(t, spool)
	if len(files) != 3 {
		t.Fatalf("spool holds %v, want three batches", files)
	}
	for i, want := range [][]byte{batch, batch2, batch3} {
		if got, _ := os.ReadFile(files[i]); !bytes.Equal(got, want) {
			t.Errorf("spool file %d (%s) = %q, want %q (oldest first)", i, filepath.Base(files[i]), got, want)
		}
	}
}

// fakeInflux is an InfluxDB write endpoint: it records the line protocol of
// each accepted write, and answers status while status != 204.
type fakeInflux struct {
	srv *httptest.Server

	mu     sync.Mutex
	status int
	bodies []string
	query  []string
	// headers are the Authorization and Content-Encoding of each accepted write.
	headers [][2]string
	got     chan struct{}
}

func newFakeInflux(t *testing.T, status int) *fakeInflux {
	f := &fakeInflux{status: status, got: make(chan struct{}, 100)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/write" {
			http.NotFound(w, r)
			return
		}
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		body, err := io.ReadAll(rd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		status := f.status
		if status == http.StatusNoContent {
			f.bodies = append(f.bodies, string(body))
			f.query = append(f.query, r.URL.RawQuery)
			f.headers = append(f.headers, [2]string{r.Header.Get("Authorization"), r.Header.Get("Content-Encoding")})
		}
		f.mu.Unlock()
		if status != http.StatusNoContent {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"code":"invalid","message":"fake refusal"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		f.got <- struct{}{}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) set(status int) { f.mu.Lock(); f.status = status; f.mu.Unlock() }
func (f *fakeInflux) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func TestDirectWrite(t *testing.T) {
	fi := newFakeInflux(t, http.StatusNoContent)
	spool := t.TempDir()
	s, reg := newSink(t, testConfig(t, fi.srv.URL, spool))
	if err := s.Write(context.Background(), []byte("a v=1 1\nb v=2 2\n")); err != nil {
		t.Fatal(err)
	}
	if got := fi.received(); len(got) != 1 || got[0] != "a v=1 1\nb v=2 2" {
		t.Fatalf("InfluxDB received %q", got)
	}
	fi.mu.Lock()
	q, h := fi.query[0], fi.headers[0]
	fi.mu.Unlock()
	if !strings.HasPrefix(h[0], "Token ") || len(h[0]) <= len("Token ") || h[1] != "gzip" {
		t.Errorf("write headers Authorization %q Content-Encoding %q, want a token and gzip", h[0], h[1])
	}
	for _, want := range []string{"org=resilience", "bucket=readings", "precision=ms"} {
		if !strings.Contains(q, want) {
			t.Errorf("write query %q lacks %s", q, want)
		}
	}
	if len(spoolFiles(t, spool)) != 0 {
		t.Error("a successful write was spooled")
	}
	if v := metric(t, reg, "resilience_influx_lines_total"); v != 2 {
		t.Errorf("lines_total = %v, want 2", v)
	}
	if !s.Healthy() {
		t.Error("not Healthy() after a successful write")
	}
}

// A 5xx, 429, 401/403 (token) or 404 (bucket) is an outage: spool and
// retry. A 400, 413 or 422 is InfluxDB refusing the data itself: keep it
// aside under rejected/, never retry it.
func TestWriteStatusHandling(t *testing.T) {
	cases := []struct {
		status       int
		wantSpooled  int
		wantRejected int
	}{
		{http.StatusServiceUnavailable, 1, 0},
		{http.StatusTooManyRequests, 1, 0},
		{http.StatusBadRequest, 0, 1},
		{http.StatusUnprocessableEntity, 0, 1},
		{http.StatusUnauthorized, 1, 0},
		{http.StatusForbidden, 1, 0},
		{http.StatusNotFound, 1, 0},
		{http.StatusRequestEntityTooLarge, 0, 1},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			fi := newFakeInflux(t, tc.status)
			spool := t.TempDir()
			s, reg := newSink(t, testConfig(t, fi.srv.URL, spool))
			batch := []byte("x v=1 1\n")
			if err := s.Write(context.Background(), batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if n := len(spoolFiles(t, spool)); n != tc.wantSpooled {
				t.Errorf("spooled %d batches, want %d", n, tc.wantSpooled)
			}
			rej, _ := filepath.Glob(filepath.Join(spool, "rejected", "*.lp"))
			if len(rej) != tc.wantRejected {
				t.Fatalf("rejected/ holds %d batches, want %d", len(rej), tc.wantRejected)
			}
			if len(rej) == 1 {
				if got, _ := os.ReadFile(rej[0]); !bytes.Equal(got, batch) {
					t.Errorf("rejected batch %q, want %q", got, batch)
				}
			}
			if v := metric(t, reg, "resilience_influx_rejected_batches_total"); v != float64(tc.wantRejected) {
				t.Errorf("rejected_batches_total = %v, want %d", v, tc.wantRejected)
			}
			if v := metric(t, reg, "resilience_influx_spool_batches"); v != float64(tc.wantSpooled) {
				t.Errorf("spool_batches = %v, want %d", v, tc.wantSpooled)
			}
		})
	}
}

// Run drains the spool once InfluxDB answers: every spooled line reaches
// InfluxDB exactly once, in fewer requests than there were batches (files
// are merged), and the spool empties; then writes go direct again.
func TestRunDrainsSpool(t *testing.T) {
	spool := t.TempDir()
	down, _ := newSink(t, testConfig(t, closedURL(t), spool))
	batches := []string{"a v=1 1\n", "b v=2 2\nc v=3 3\n", "d v=4 4\n"}
	for _, b := range batches {
		if err := down.Write(context.Background(), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	down.Close()

	fi := newFakeInflux(t, http.StatusServiceUnavailable)
	s, reg := newSink(t, testConfig(t, fi.srv.URL, spool))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// A new batch written while the spool drains queues behind it.
	if err := s.Write(ctx, []byte("e v=5 5\n")); err != nil {
		t.Fatal(err)
	}
	fi.set(http.StatusNoContent) // InfluxDB is back
	deadline := time.After(failDeadline)
	for len(spoolFiles(t, spool)) != 0 || metric(t, reg, "resilience_influx_spool_batches") != 0 ||
		metric(t, reg, "resilience_influx_spool_bytes") != 0 {
		select {
		case <-deadline:
			t.Fatalf("spool not emptied: %v, gauge %v", spoolFiles(t, spool), metric(t, reg, "resilience_influx_spool_batches"))
		case <-time.After(10 * time.Millisecond):
		}
	}
	got := fi.received()
	if len(got) >= 4 {
		t.Errorf("drained in %d requests, want the 4 batches merged into fewer", len(got))
	}
	lines := strings.Split(strings.Join(got, "\n"), "\n")
	sort.Strings(lines)
	want := []string{"a v=1 1", "b v=2 2", "c v=3 3", "d v=4 4", "e v=5 5"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("drained lines %q, want each of %q once", lines, want)
	}
	// Back to direct writes.
	if err := s.Write(ctx, []byte("f v=6 6\n")); err != nil {
		t.Fatal(err)
	}
	if got := fi.received(); got[len(got)-1] != "f v=6 6" {
		t.Fatalf("direct write after draining: %q", got)
	}
	if len(spoolFiles(t, spool)) != 0 {
		t.Error("write after draining was spooled")
	}
}

// A Timeout under a second must still bound a write: the client counts
// whole seconds and takes 0 as "no timeout", so a hung InfluxDB would hang
// Write (and the processor) forever.
func TestSubSecondTimeoutStillBoundsWrite(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang like an overloaded InfluxDB
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	spool := t.TempDir()
	cfg := testConfig(t, srv.URL, spool)
	cfg.Timeout = 300 * time.Millisecond
	s, reg := newSink(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), []byte("x v=1 1\n")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
	case <-time.After(failDeadline):
		t.Fatal("Write against a hung InfluxDB never returned: the request timeout is not applied")
	}
	if v := metric(t, reg, "resilience_influx_spool_batches"); v != 1 {
		t.Errorf("spool_batches = %v, want 1", v)
	}
}
