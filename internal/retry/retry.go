package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Ceiling returns the exponential envelope of retry attempt n (1-based):
// min doubled n-1 times, capped at max. Attempt numbers below 1 act as the
// first; a min above max gives max.
func Ceiling(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// Backoff returns the wait before retry attempt n (1-based) with full
// jitter: a uniformly random duration between min and Ceiling(n, min, max)
// (both included). The jitter spreads the retries of many clients (every
// collector, processor worker and alerts reader after one Kafka outage) so
// that they do not hit the recovering server in lock-step; the floor of min
// keeps a retry loop from spinning when the draw is near zero.
func Backoff(n int, min, max time.Duration) time.Duration {
	c := Ceiling(n, min, max)
	lo := min
	if lo > c {
		lo = c
	}
	if c <= lo {
		return c
	}
	return lo + rand.N(c-lo+1)
}

// Sleep waits d or until ctx is done, returning ctx.Err() in the latter case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
