package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExhausted is returned (wrapping the last error) by Do when a Policy's
// Attempts are used up.
var ErrExhausted = errors.New("retry: attempts exhausted")

// Policy bounds a retry loop run by Do.
type Policy struct {
	// Min and Max are the envelope of the jittered backoff between
	// attempts (see Backoff); Min == Max waits a fixed time.
	Min, Max time.Duration
	// Attempts is the most calls of the function; 0 retries until success,
	// a permanent error or the context's end.
	Attempts int
	// OnRetry, if set, is called after each failed attempt that will be
	// retried, with the wait before the next (log and count there).
	OnRetry func(attempt int, err error, wait time.Duration)
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that Do returns it at once instead of retrying.
// errors.Is and errors.As see through the wrapper. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Do calls fn with attempt numbers 1, 2, … until it returns nil, and
// waits the policy's jittered backoff between failures. It returns:
//
//   - nil once fn succeeds;
//   - fn's error as is when it is Permanent (IsPermanent reports it);
//   - ErrExhausted wrapping the last error when p.Attempts are used up;
//   - ctx.Err() wrapping the last error when ctx ends (fn is always called
//     at least once; it should itself observe ctx).
func Do(ctx context.Context, p Policy, fn func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		switch {
		case err == nil:
			return nil
		case IsPermanent(err):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("%w (attempt %d: %w)", ctx.Err(), attempt, err)
		case p.Attempts > 0 && attempt >= p.Attempts:
			return fmt.Errorf("%w (%d): %w", ErrExhausted, attempt, err)
		}
		wait := Backoff(attempt, p.Min, p.Max)
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		if Sleep(ctx, wait) != nil {
			return fmt.Errorf("%w (attempt %d: %w)", ctx.Err(), attempt, err)
		}
	}
}
