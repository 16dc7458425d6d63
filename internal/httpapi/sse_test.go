package httpapi_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// sseEvent is one parsed event (a comment line is Kind "comment").
type sseEvent struct {
	ID   string
	Kind string
	Data string
}

// sseReader parses a text/event-stream body.
type sseReader struct{ sc *bufio.Scanner }

func newSSEReader(r io.Reader) *sseReader { return &sseReader{sc: bufio.NewScanner(r)} }

// next returns the next event or comment block.
func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	seen := false
	for s.sc.Scan() {
		line := s.sc.Text()
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "":
			if ev.Kind == "" {
				ev.Kind = "comment"
				ev.Data = v
			}
		case "id":
			ev.ID = v
		case "event":
			ev.Kind = v
		case "data":
			ev.Data = v
		}
	}
	if err := s.sc.Err(); err != nil {
		return ev, err
	}
	return ev, io.EOF
}

// nextEvent skips comments (the retry line and heartbeats).
func (s *sseReader) nextEvent() (sseEvent, error) {
	for {
		ev, err := s.next()
		if err != nil || ev.Kind != "comment" {
			return ev, err
		}
	}
}

// hubServer runs a hub's Stream and Ticket handlers on an httptest server
// with the API's real timeouts shortened (see TestEventsOutlivesServerTimeouts).
func hubServer(t *testing.T, o httpapi.EventsOptions, authn *auth.Authenticator, timeouts time.Duration) (*httpapi.Events, *httptest.Server) {
	t.Helper()
	if o.FirstID == 0 {
		o.FirstID = 1000
	}
	hub, err := httpapi.NewEvents(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/events", hub.Stream(authn))
	mux.Handle("POST /api/v1/events/ticket", hub.Ticket(authn))
	srv := httptest.NewUnstartedServer(mux)
	if timeouts > 0 {
		srv.Config.ReadTimeout, srv.Config.WriteTimeout = timeouts, timeouts
	}
	srv.Start()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
	})
	return hub, srv
}

// openStream GETs the stream with headers; the body is closed at cleanup.
func openStream(t *testing.T, url string, hdr map[string]string) (*http.Response, *sseReader) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// A test waiting for an event that never comes fails instead of
	// hanging: the body is closed after a generous deadline.
	stop := time.AfterFunc(60*time.Second, func() { resp.Body.Close() })
	t.Cleanup(func() { stop.Stop(); resp.Body.Close() })
	return resp, newSSEReader(resp.Body)
}

func publishN(t *testing.T, hub *httpapi.Events, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := hub.Publish(httpapi.EventAlert, map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
}

// readN reads n events and returns them; it fails on a reload or EOF.
func readN(t *testing.T, r *sseReader, n int) []sseEvent {
	t.Helper()
	out := make([]sseEvent, 0, n)
	for len(out) < n {
		ev, err := r.nextEvent()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestEventsResumeWithoutGap: a client that disconnects and reconnects
// with the last id it saw (header or query) gets every event after it, in
// order, each once — including those published while it was away.
func TestEventsResumeWithoutGap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resume func(url, id string) (string, map[string]string)
	}{
		{"Last-Event-ID header", func(url, id string) (string, map[string]string) {
			return url, map[string]string{"Last-Event-ID": id}
		}},
		{"last_event_id query", func(url, id string) (string, map[string]string) {
			return url + "?last_event_id=" + id, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub, srv := hubServer(t, httpapi.EventsOptions{Ring: 100}, nil, 0)
			url := srv.URL + "/api/v1/events"
			resp, r := openStream(t, url, nil)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type %q", ct)
			}
			publishN(t, hub, 0, 10)
			got := readN(t, r, 5)
			resp.Body.Close() // the client goes away after 5
			publishN(t, hub, 10, 10)

			u, hdr := tc.resume(url, got[len(got)-1].ID)
			_, r2 := openStream(t, u, hdr)
			got = append(got, readN(t, r2, 15)...)
			for i, ev := range got {
				if want := strconv.Itoa(1001 + i); ev.ID != want || ev.Kind != "alert" || ev.Data != fmt.Sprintf(`{"n":%d}`, i) {
					t.Fatalf("event %d: %+v, want id %s kind alert data {\"n\":%d}", i, ev, want, i)
				}
			}
		})
	}
}

// TestEventsReload: a Last-Event-ID whose successors fell out of the ring,
// or one the hub never gave (a client of an earlier process), gets a
// reload event, not a silent gap; the reload carries the newest id to
// follow from.
func TestEventsReload(t *testing.T) {
	hub, srv := hubServer(t, httpapi.EventsOptions{Ring: 4}, nil, 0)
	publishN(t, hub, 0, 10) // ids 1001..1010; the ring keeps 1007..1010
	for _, tc := range []struct {
		last   string
		reload bool
	}{
		{"1001", true},
		{"1005", true},
		{"1006", false}, // 1007.. are all kept
		{"1010", false},
		{"99999999", true}, // newer than any: another process's id
		{"5", true},
	} {
		t.Run(tc.last, func(t *testing.T) {
			_, r := openStream(t, srv.URL+"/api/v1/events", map[string]string{"Last-Event-ID": tc.last})
			if !tc.reload {
				last, _ := strconv.ParseUint(tc.last, 10, 64)
				if last == hub.LastID() {
					// Nothing after it yet. (Publishing for the 1006 case
					// would push 1007 out of the ring first.)
					publishN(t, hub, 100, 1)
				}
				ev, err := r.nextEvent()
				if err != nil || ev.Kind != "alert" {
					t.Fatalf("got %+v, %v; want an alert event", ev, err)
				}
				if id, _ := strconv.ParseUint(ev.ID, 10, 64); id != last+1 {
					t.Fatalf("first id %d, want %d", id, last+1)
				}
				return
			}
			ev, err := r.nextEvent()
			if err != nil || ev.Kind != "reload" {
				t.Fatalf("got %+v, %v; want a reload event", ev, err)
			}
			if ev.ID != strconv.FormatUint(hub.LastID(), 10) {
				t.Fatalf("reload id %s, want the newest %d", ev.ID, hub.LastID())
			}
			if _, err := r.nextEvent(); !errors.Is(err, io.EOF) {
				t.Fatalf("stream goes on after reload: %v", err)
			}
		})
	}
}

// TestEventsBadLastEventID answers 400.
func TestEventsBadLastEventID(t *testing.T) {
	_, srv := hubServer(t, httpapi.EventsOptions{}, nil, 0)
	resp, _ := openStream(t, srv.URL+"/api/v1/events", map[string]string{"Last-Event-ID": "x1"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

// TestEventsOutlivesServerTimeouts: the API's server has a ReadTimeout and
// a WriteTimeout (10 s, 30 s); a stream must outlive both. Here they are
// 200 ms and the stream stays open for 15 heartbeats of 100 ms, then
// still delivers an event.
func TestEventsOutlivesServerTimeouts(t *testing.T) {
	hub, srv := hubServer(t, httpapi.EventsOptions{Heartbeat: 100 * time.Millisecond}, nil, 200*time.Millisecond)
	_, r := openStream(t, srv.URL+"/api/v1/events", nil)
	start := time.Now()
	for beats := 0; beats < 15; {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("stream ended after %v (%d heartbeats): %v", time.Since(start), beats, err)
		}
		if ev.Kind == "comment" && ev.Data == "heartbeat" {
			beats++
		}
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Fatalf("15 heartbeats of 100 ms in %v", time.Since(start))
	}
	publishN(t, hub, 0, 1)
	if ev, err := r.nextEvent(); err != nil || ev.Kind != "alert" {
		t.Fatalf("after the timeouts: %+v, %v", ev, err)
	}
}

// TestEventsRunEndsStreams: when Run's context ends, open streams end
// (else the HTTP server's graceful shutdown waits for them).
func TestEventsRunEndsStreams(t *testing.T) {
	hub, err := httpapi.NewEvents(httpapi.EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	srv := httptest.NewServer(hub.Stream(nil))
	defer srv.Close()
	_, r := openStream(t, srv.URL, nil)
	if ev, err := r.next(); err != nil || ev.Kind != "comment" {
		t.Fatalf("opening comment: %+v, %v", ev, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream after Run ended: %v, want EOF", err)
	}
}

// testAuthn is an authenticator with one token per role.
func testAuthn(t *testing.T) (*auth.Authenticator, map[auth.Role]string) {
	t.Helper()
	toks := map[auth.Role]string{}
	var entries []auth.Token
	for _, role := range auth.Roles() {
		tok := "tok-" + role.String()
		toks[role] = tok
		entries = append(entries, auth.Token{Name: role.String(), Role: role, Hash: sha256.Sum256([]byte(tok))})
	}
	a, err := auth.New(entries, auth.Options{Rate: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return a, toks
}

func getTicket(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/events/ticket", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The answer, as the OpenAPI document describes it.
	rec := httptest.NewRecorder()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	rec.Body.Write(raw)
	validateResponse(t, req, "", rec)
	var body struct {
		Ticket    string `json:"ticket"`
		ExpiresAt string `json:"expires_at"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("ticket answer: %v", err)
		}
	}
	return resp.StatusCode, body.Ticket
}

// TestEventsAuth: the stream needs a bearer token or a ticket; a ticket
// is single use and expires.
func TestEventsAuth(t *testing.T) {
	authn, toks := testAuthn(t)
	now := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	clock := &now
	_, srv := hubServer(t, httpapi.EventsOptions{TicketTTL: 30 * time.Second, Now: func() time.Time { return *clock }}, authn, 0)
	events := srv.URL + "/api/v1/events"

	if code, _ := getTicket(t, srv.URL, ""); code != http.StatusUnauthorized {
		t.Fatalf("ticket without a token: %d, want 401", code)
	}
	if code, _ := getTicket(t, srv.URL, "nope"); code != http.StatusUnauthorized {
		t.Fatalf("ticket with a bad token: %d, want 401", code)
	}
	code, tk := getTicket(t, srv.URL, toks[auth.RoleViewer])
	if code != http.StatusOK || len(tk) < 32 {
		t.Fatalf("viewer's ticket: %d %q", code, tk)
	}
	_, tkExpired := getTicket(t, srv.URL, toks[auth.RoleAdmin])

	for _, tc := range []struct {
		name string
		url  string
		hdr  map[string]string
		want int
	}{
		{"no credentials", events, nil, http.StatusUnauthorized},
		{"bad bearer", events, map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"viewer bearer", events, map[string]string{"Authorization": "Bearer " + toks[auth.RoleViewer]}, http.StatusOK},
		{"unknown ticket", events + "?ticket=abc", nil, http.StatusUnauthorized},
		{"ticket", events + "?ticket=" + tk, nil, http.StatusOK},
		{"ticket used twice", events + "?ticket=" + tk, nil, http.StatusUnauthorized},
		{"expired ticket", events + "?ticket=" + tkExpired, nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "expired ticket" {
				later := now.Add(31 * time.Second)
				clock = &later
			}
			resp, _ := openStream(t, tc.url, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			resp.Body.Close()
		})
	}
}

// TestEventsRingWraps publishes past the ring many times over and checks
// that a follower reading concurrently sees every id in order.
func TestEventsRingWraps(t *testing.T) {
	hub, srv := hubServer(t, httpapi.EventsOptions{Ring: 8}, nil, 0)
	_, r := openStream(t, srv.URL+"/api/v1/events", nil)
	if ev, err := r.next(); err != nil || ev.Kind != "comment" {
		t.Fatalf("opening comment: %+v, %v", ev, err)
	}
	const total = 200
	for i := 0; i < total; i++ {
		// The follower may fall behind the 8-event ring: publish one at
		// a time and read it, so that it never does.
		publishN(t, hub, i, 1)
		ev, err := r.nextEvent()
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(1001 + i); ev.ID != want {
			t.Fatalf("event %d: id %s, want %s", i, ev.ID, want)
		}
	}
}

// TestEventsPublishBadData returns ErrBadEventData.
func TestEventsPublishBadData(t *testing.T) {
	hub, err := httpapi.NewEvents(httpapi.EventsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish(httpapi.EventStation, func() {}); !errors.Is(err, httpapi.ErrBadEventData) {
		t.Fatalf("err %v, want ErrBadEventData", err)
	}
}
