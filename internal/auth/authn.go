package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrNoToken is returned by Authenticate for a request without an
// "Authorization: Bearer …" header (or with another scheme).
var ErrNoToken = errors.New("auth: no bearer token")

// ErrInvalidToken is returned by Authenticate for a bearer token that is
// in no entry of the tokens file.
var ErrInvalidToken = errors.New("auth: invalid token")

// maxTokenLen bounds what is hashed; NewToken's tokens are 47 bytes.
const maxTokenLen = 512

// Principal is an authenticated token holder.
type Principal struct {
	Name string
	Role Role
}

// Options configure an Authenticator.
type Options struct {
	// Rate is the sustained requests per second allowed per token (10
	// when 0); Burst the bucket size (20 when 0).
	Rate  float64
	Burst int
	// Now is the clock of the rate limiter (time.Now when nil).
	Now func() time.Time
	// Registerer takes the metrics (none when nil).
	Registerer prometheus.Registerer
	// Logger logs refusals at debug level and rate limiting at warn
	// (slog.Default when nil).
	Logger *slog.Logger
}

// Authenticator checks bearer tokens against a tokens file's entries.
// It is safe for concurrent use.
type Authenticator struct {
	tokens  []Token
	limiter *limiter
	log     *slog.Logger
	results *prometheus.CounterVec
}

// The outcomes counted in resilience_auth_requests_total.
const (
	outcomeOK          = "ok"
	outcomeOpen        = "open_loopback"
	outcomeNoToken     = "no_token"
	outcomeBadToken    = "invalid_token"
	outcomeForbidden   = "forbidden"
	outcomeRateLimited = "rate_limited"
)

// New builds an Authenticator over tokens (as Load returns them).
func New(tokens []Token, o Options) (*Authenticator, error) {
	if o.Rate == 0 {
		o.Rate = 10
	}
	if o.Burst == 0 {
		o.Burst = 20
	}
	if o.Rate < 0 || o.Burst < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return nil, fmt.Errorf("auth: rate %v burst %d: want positive numbers", o.Rate, o.Burst)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	names := make([]string, len(tokens))
	for i, t := range tokens {
		names[i] = t.Name
	}
	a := &Authenticator{
		tokens:  append([]Token(nil), tokens...),
		limiter: newLimiter(names, o.Rate, o.Burst, o.Now),
		log:     o.Logger,
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resilience_auth_requests_total",
			Help: "HTTP API requests by authentication outcome (ok, open_loopback, no_token, invalid_token, forbidden, rate_limited).",
		}, []string{"outcome"}),
	}
	for _, oc := range []string{outcomeOK, outcomeOpen, outcomeNoToken, outcomeBadToken, outcomeForbidden, outcomeRateLimited} {
		a.results.WithLabelValues(oc)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(a.results); err != nil {
			return nil, fmt.Errorf("auth: register metrics: %w", err)
		}
	}
	return a, nil
}

// Authenticate finds the token of r's Authorization header: ErrNoToken
// without one, ErrInvalidToken when no entry matches. Every entry is
// compared in constant time, without stopping at a match.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return Principal{}, ErrNoToken
	}
	if len(tok) > maxTokenLen {
		return Principal{}, ErrInvalidToken
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, ErrInvalidToken
	}
	return Principal{Name: a.tokens[found].Name, Role: a.tokens[found].Role}, nil
}

// bearer extracts the token of "Bearer <token>" (scheme case-insensitive,
// RFC 6750).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Require wraps next: the request needs a token whose role has perm
// (PermPublic: none at all; PermHealth: none from a loopback client). In order: no token → 401
// with "WWW-Authenticate: Bearer"; unknown token → 401 with
// error="invalid_token"; the token over its rate → 429 with Retry-After
// (seconds); a role without perm → 403. next sees the Principal in the
// request's context (FromContext).
func (a *Authenticator) Require(perm Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if perm == PermPublic {
			next.ServeHTTP(w, r)
			return
		}
		if perm == PermHealth && isLoopback(r.RemoteAddr) {
			a.results.WithLabelValues(outcomeOpen).Inc()
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.Authenticate(r)
		switch {
		case errors.Is(err, ErrNoToken):
			a.refuse(w, r, outcomeNoToken, http.StatusUnauthorized, "a bearer token is required", "")
			return
		case err != nil:
			a.refuse(w, r, outcomeBadToken, http.StatusUnauthorized, "invalid token", "")
			return
		}
		if wait, ok := a.limiter.allow(p.Name); !ok {
			secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
			a.log.Warn("auth: rate limited", "token", p.Name, "method", r.Method, "path", r.URL.Path, "retry_after_s", secs)
			a.refuse(w, r, outcomeRateLimited, http.StatusTooManyRequests, "rate limit of token "+p.Name+" exceeded", secs)
			return
		}
		if !p.Role.Allows(perm) {
			a.refuse(w, r, outcomeForbidden, http.StatusForbidden,
				fmt.Sprintf("role %s lacks permission %s (needs %s)", p.Role, perm, perm.MinRole()), "")
			return
		}
		a.results.WithLabelValues(outcomeOK).Inc()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// refuse writes a JSON error with the headers its status needs.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, outcome string, code int, msg, retryAfter string) {
	a.results.WithLabelValues(outcome).Inc()
	a.log.Debug("auth: refused", "outcome", outcome, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	switch outcome {
	case outcomeNoToken:
		w.Header().Set("WWW-Authenticate", `Bearer realm="resilience"`)
	case outcomeBadToken:
		w.Header().Set("WWW-Authenticate", `Bearer realm="resilience", error="invalid_token"`)
	case outcomeRateLimited:
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// isLoopback reports whether a RemoteAddr ("host:port") is a loopback
// address. A reverse proxy on the same host makes every request loopback:
// restrict health and metrics at the proxy then.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type principalKey struct{}

// FromContext is the Principal Require authenticated; ok is false on an
// unauthenticated (loopback health) request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
