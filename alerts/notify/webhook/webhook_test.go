package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/webhook"
	"github.com/resilience-project/resilience/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret = []byte("0123456789abcdef-duty")
	t0     = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
)

func notification() notify.Notification {
	e := schemas.AlertEvent{V: 1, ID: "VG-AINGHIA-01", EventID: "VG-AINGHIA-01:fired:2:1", Kind: schemas.AlertFired, Station: "VG-AINGHIA",
		Sensor: schemas.WaterLevel, Rule: "level:water_level", Level: 2, LevelName: "BĐ II", Severity: schemas.SeveritySevere, Value: 8.4, At: t0}
	return notify.Notification{ID: "n-0123", Receiver: "duty", Target: "duty/webhook[0]", Alerts: []schemas.AlertEvent{e}, At: t0}
}

// receiver is a webhook receiver as a chat bot would run it: verify, then
// process each notification id once.
type receiver struct {
	mu        sync.Mutex
	processed map[string]int
	requests  int
	status    int
	now       time.Time
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.status != 0 {
		w.WriteHeader(r.status)
		return
	}
	if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, r.now, 0); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b webhook.Body
	if err := json.Unmarshal(body, &b); err != nil || b.ID != req.Header.Get(webhook.HeaderID) || b.ID != req.Header.Get(webhook.HeaderIdempotency) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.processed[b.ID]++
}

func TestSendSignedAndDeduplicatedByID(t *testing.T) {
	rc := &receiver{processed: map[string]int{}, now: t0.Add(time.Minute)}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	clock := t0
	ch, err := webhook.New(webhook.Config{Name: "webhook[0]", URL: srv.URL, Secret: secret, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	n := notification()
	if err := ch.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	clock = t0.Add(2 * time.Minute) // a resend after a crash: new timestamp, same id
	if err := ch.Send(context.Background(), n); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if rc.requests != 2 || rc.processed[n.ID] != 2 || len(rc.processed) != 1 {
		t.Fatalf("requests %d, processed %v: want 2 verified requests of one id", rc.requests, rc.processed)
	}
	b, err := ch.Encode(n)
	if err != nil {
		t.Fatal(err)
	}
	var body webhook.Body
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	if body.Text["vi"].Subject == "" || body.Text["en"].Body == "" || body.Alerts[0].Value != 8.4 {
		t.Errorf("body = %s", b)
	}
}

func TestStatusClassification(t *testing.T) {
	cases := []struct {
		status    int
		ok, perma bool
	}{
		{200, true, false}, {204, true, false}, {400, false, true}, {401, false, true}, {404, false, true},
		{408, false, false}, {425, false, false}, {429, false, false}, {500, false, false}, {503, false, false},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			rc := &receiver{processed: map[string]int{}, status: c.status}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			ch, err := webhook.New(webhook.Config{URL: srv.URL, Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			err = ch.Send(context.Background(), notification())
			if (err == nil) != c.ok || errors.Is(err, notify.ErrPermanent) != c.perma {
				t.Errorf("status %d: Send = %v; want ok=%v permanent=%v", c.status, err, c.ok, c.perma)
			}
		})
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	ch, _ := webhook.New(webhook.Config{URL: srv.URL, Secret: secret})
	if err := ch.Send(context.Background(), notification()); err == nil || errors.Is(err, notify.ErrPermanent) {
		t.Errorf("Send to a closed port = %v, want a retryable error", err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"n"}`)
	ts := t0.Unix()
	sig := webhook.Sign(secret, ts, body)
	tsS := strconv.FormatInt(ts, 10)
	cases := []struct {
		name   string
		secret []byte
		ts     string
		sig    string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, tsS, sig, body, t0.Add(4 * time.Minute), nil},
		{"tampered body", secret, tsS, sig, []byte(`{"id":"m"}`), t0, webhook.ErrBadSignature},
		{"other secret", []byte("another-secret-0123"), tsS, sig, body, t0, webhook.ErrBadSignature},
		{"timestamp changed", secret, strconv.FormatInt(ts+1, 10), sig, body, t0, webhook.ErrBadSignature},
		{"not a number", secret, "x", sig, body, t0, webhook.ErrBadSignature},
		{"replayed late", secret, tsS, sig, body, t0.Add(6 * time.Minute), webhook.ErrStale},
		{"from the future", secret, tsS, sig, body, t0.Add(-6 * time.Minute), webhook.ErrStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := webhook.Verify(c.secret, c.ts, c.sig, c.body, c.now, 0); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestLoadSecretAndNew(t *testing.T) {
	dir := t.TempDir()
	good, weak := filepath.Join(dir, "good"), filepath.Join(dir, "weak")
	os.WriteFile(good, []byte("  0123456789abcdef\n"), 0o600)
	os.WriteFile(weak, []byte("short\n"), 0o600)
	if s, err := webhook.LoadSecret(good); err != nil || string(s) != "0123456789abcdef" {
		t.Errorf("LoadSecret(good) = %q, %v", s, err)
	}
	if _, err := webhook.LoadSecret(weak); !errors.Is(err, webhook.ErrWeakSecret) {
		t.Errorf("LoadSecret(weak) = %v, want ErrWeakSecret", err)
	}
	if _, err := webhook.LoadSecret(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadSecret(missing) = %v", err)
	}
	if _, err := webhook.New(webhook.Config{URL: "ftp://x", Secret: secret}); err == nil {
		t.Error("New(ftp) succeeded")
	}
	if _, err := webhook.New(webhook.Config{URL: "http://x", Secret: []byte("s")}); !errors.Is(err, webhook.ErrWeakSecret) {
		t.Errorf("New(weak) = %v", err)
	}
}
