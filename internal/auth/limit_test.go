package auth_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

func TestLimitBody(t *testing.T) {
	h := auth.LimitBody(10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if auth.IsTooLarge(err) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(b)
	}))
	tests := []struct {
		name    string
		body    string
		unknown bool // no Content-Length (chunked)
		want    int
	}{
		{"under", "0123456789", false, 200},
		{"over, declared", "0123456789x", false, 413},
		{"under, chunked", "01234", true, 200},
		{"over, chunked", strings.Repeat("x", 100), true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
			if tt.unknown {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("= %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 200 && rec.Body.String() != tt.body {
				t.Fatalf("body %q, want %q", rec.Body, tt.body)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		q    string
		want int
		bad  bool
	}{
		{"", 50, false},
		{"limit=1", 1, false},
		{"limit=500", 500, false},
		{"limit=501", 0, true},
		{"limit=0", 0, true},
		{"limit=-3", 0, true},
		{"limit=ten", 0, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.q)
		got, err := auth.ParseLimit(q, 50, 500)
		if got != tt.want || errors.Is(err, auth.ErrBadLimit) != tt.bad {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d, bad %v", tt.q, got, err, tt.want, tt.bad)
		}
	}
}
