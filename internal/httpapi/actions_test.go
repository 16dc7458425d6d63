package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/resilience-project/resilience/internal/httpapi"
)

type actCall struct{ id, kind, by, note string }

type fakeActor struct {
	mu    sync.Mutex
	calls []actCall
	err   error
}

func (f *fakeActor) Act(_ context.Context, id, kind, by, note string) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.calls = append(f.calls, actCall{id, kind, by, note})
	return map[string]string{"alert_id": id, "kind": kind}, nil
}

func TestAlertActions(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		body     string
		actorErr error
		code     int
		want     *actCall
	}{
		{"ack", "/api/v1/alerts/A1/ack", `{"by":"lan","note":"on my way"}`, nil, http.StatusAccepted, &actCall{"A1", "ack", "lan", "on my way"}},
		{"ack without a note", "/api/v1/alerts/A1/ack", `{"by":"lan"}`, nil, http.StatusAccepted, &actCall{"A1", "ack", "lan", ""}},
		{"resolve", "/api/v1/alerts/A1/resolve", `{"by":"minh","reason":"water receded"}`, nil, http.StatusAccepted,
			&actCall{"A1", "resolve", "minh", "water receded"}},
		{"resolve needs a reason", "/api/v1/alerts/A1/resolve", `{"by":"minh"}`, nil, http.StatusBadRequest, nil},
		{"by is required", "/api/v1/alerts/A1/ack", `{"note":"x"}`, nil, http.StatusBadRequest, nil},
		{"unknown key", "/api/v1/alerts/A1/ack", `{"by":"lan","reason":"x"}`, nil, http.StatusBadRequest, nil},
		{"not JSON", "/api/v1/alerts/A1/ack", `by=lan`, nil, http.StatusBadRequest, nil},
		{"too large", "/api/v1/alerts/A1/ack", `{"by":"` + strings.Repeat("x", httpapi.MaxActionBody) + `"}`, nil, http.StatusBadRequest, nil},
		{"unknown alert", "/api/v1/alerts/NOPE/ack", `{"by":"lan"}`, fmt.Errorf("alert NOPE: %w", httpapi.ErrNoSuchAlert), http.StatusNotFound, nil},
		{"rejected by the actor", "/api/v1/alerts/A1/ack", `{"by":"lan"}`, fmt.Errorf("by: %w", httpapi.ErrBadAction), http.StatusBadRequest, nil},
		{"Kafka down", "/api/v1/alerts/A1/ack", `{"by":"lan"}`, errors.New("dial tcp: refused"), http.StatusServiceUnavailable, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actor := &fakeActor{err: tc.actorErr}
			h := httpapi.New(httpapi.Options{Alerts: &fakeAlerts{}, Actions: actor}).Handler()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.code {
				t.Fatalf("POST %s %s: %d %s, want %d", tc.path, tc.body, rec.Code, rec.Body, tc.code)
			}
			switch {
			case tc.want == nil && len(actor.calls) != 0:
				t.Errorf("actor called %+v, want no call", actor.calls)
			case tc.want != nil && (len(actor.calls) != 1 || actor.calls[0] != *tc.want):
				t.Errorf("actor calls %+v, want [%+v]", actor.calls, *tc.want)
			}
		})
	}
	// Without an actor the endpoints do not exist.
	h := httpapi.New(httpapi.Options{Alerts: &fakeAlerts{}}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/alerts/A1/ack", strings.NewReader(`{"by":"lan"}`)))
	if rec.Code == http.StatusAccepted {
		t.Errorf("POST ack without an actor: %d, want not accepted", rec.Code)
	}
}
