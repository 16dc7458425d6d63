package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// LimitBody wraps next so that a request body over max bytes is refused:
// at once with 413 when Content-Length says so, otherwise reading past max
// fails with *http.MaxBytesError (and the server closes the connection);
// a handler that sees that error should answer 413 (IsTooLarge).
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("request body of %d bytes over the limit of %d", r.ContentLength, max)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// IsTooLarge reports whether err comes from reading past LimitBody's limit.
func IsTooLarge(err error) bool {
	var m *http.MaxBytesError
	return errors.As(err, &m)
}

// ErrBadLimit is returned by ParseLimit for a limit that is not a number
// in 1..max.
var ErrBadLimit = errors.New("bad page limit")

// ParseLimit reads the "limit" query parameter: def when absent, an error
// matching ErrBadLimit when it is not an integer in 1..max.
func ParseLimit(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: limit=%q: want an integer in 1..%d", ErrBadLimit, s, max)
	}
	return n, nil
}
