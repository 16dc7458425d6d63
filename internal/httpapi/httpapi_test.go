package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/internal/httpapi"
)

// Run starts the HTTP server's goroutines; none may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// get serves one request and returns the status, headers and body.
func get(t *testing.T, h http.Handler, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "127.0.0.1:40000" // health is open on loopback
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Header(), rec.Body.String()
}

func decodeString(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	f.set(errors.New("down")) // liveness ignores readiness checks
	code, _, body := get(t, f.h, "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name          string
		kafka, influx error
		code          int
		want          map[string]string
	}{
		{"all ok", nil, nil, http.StatusOK, map[string]string{"kafka": "ok", "influx": "ok"}},
		{"one failing", errors.New("kafka 127.0.0.1:9092: connection refused"), nil, http.StatusServiceUnavailable,
			map[string]string{"kafka": "kafka 127.0.0.1:9092: connection refused", "influx": "ok"}},
		{"both failing", errors.New("k"), errors.New("spooling"), http.StatusServiceUnavailable,
			map[string]string{"kafka": "k", "influx": "spooling"}},
	}
	var mu sync.Mutex
	var kafkaErr, influxErr error
	check := func(p *error) httpapi.Check {
		return func() error { mu.Lock(); defer mu.Unlock(); return *p }
	}
	h := httpapi.New(httpapi.Options{Checks: map[string]httpapi.Check{"kafka": check(&kafkaErr), "influx": check(&influxErr)}}).Handler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			kafkaErr, influxErr = tc.kafka, tc.influx
			mu.Unlock()
			code, hdr, body := get(t, h, "/readyz")
			if code != tc.code {
				t.Errorf("/readyz = %d, want %d (%s)", code, tc.code, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]string
			decodeString(t, body, &got)
			if len(got) != len(tc.want) {
				t.Errorf("/readyz body %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("/readyz[%s] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestReadyzWithoutChecks(t *testing.T) {
	code, _, body := get(t, httpapi.New(httpapi.Options{}).Handler(), "/readyz")
	if code != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Errorf("/readyz without checks = %d %q, want 200 {}", code, body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	if !strings.Contains(body, "resilience_test_things_total 3") {
		t.Errorf("/metrics lacks the registered counter:\n%s", body)
	}
}

// addrHandler is a slog.Handler that reports the "addr" attribute.
type addrHandler struct{ addr chan string }

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h addrHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrHandler) WithGroup(string) slog.Handler            { return h }
func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.addr <- a.Value.String()
		}
		return true
	})
	return nil
}

func TestRunServesAndStops(t *testing.T) {
	f := newFixture(t)
	addrs := make(chan string, 1)
	s := httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", Gatherer: f.reg, Logger: slog.New(addrHandler{addrs})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not log its address")
	}
	cl := &http.Client{Transport: &http.Transport{}}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	cl.CloseIdleConnections()
	if _, err := cl.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := httpapi.New(httpapi.Options{Listen: ln.Addr().String()})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Run on a taken port = %v, want an error naming %s", err, ln.Addr())
	}
}

// TestReadyzDegraded (defect 5): a degradation (the point spool full) keeps
// /readyz at 200, so a load balancer keeps routing, but names the reason in
// the body and the X-Resilience-Degraded header; a failing check still
// makes it 503.
func TestReadyzDegraded(t *testing.T) {
	var mu sync.Mutex
	reason := ""
	var checkErr error
	h := httpapi.New(httpapi.Options{
		Checks: map[string]httpapi.Check{"processor": func() error { mu.Lock(); defer mu.Unlock(); return checkErr }},
		Degradations: map[string]httpapi.Degradation{"points": func() string {
			mu.Lock()
			defer mu.Unlock()
			return reason
		}},
	}).Handler()
	set := func(r string, err error) { mu.Lock(); reason, checkErr = r, err; mu.Unlock() }
	cases := []struct {
		name    string
		reason  string
		err     error
		code    int
		want    map[string]string
		wantHdr string
	}{
		{"fine", "", nil, http.StatusOK, map[string]string{"processor": "ok", "points": "ok"}, ""},
		{"spool full", "point spool full, 1200 readings not yet stored in InfluxDB", nil, http.StatusOK,
			map[string]string{"processor": "ok", "points": "degraded: point spool full, 1200 readings not yet stored in InfluxDB"}, "points"},
		{"spool full and not ready", "point spool full, 5 readings not yet stored in InfluxDB", errors.New("no partitions assigned yet"),
			http.StatusServiceUnavailable,
			map[string]string{"processor": "no partitions assigned yet", "points": "degraded: point spool full, 5 readings not yet stored in InfluxDB"}, "points"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.reason, tc.err)
			code, hdr, body := get(t, h, "/readyz")
			if code != tc.code {
				t.Errorf("/readyz = %d, want %d (%s)", code, tc.code, body)
			}
			if got := hdr.Get("X-Resilience-Degraded"); got != tc.wantHdr {
				t.Errorf("X-Resilience-Degraded = %q, want %q", got, tc.wantHdr)
			}
			var got map[string]string
			decodeString(t, body, &got)
			if len(got) != len(tc.want) {
				t.Errorf("/readyz body %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("/readyz[%s] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
