package auth

import (
	"sync"
	"time"
)

// limiter is a token bucket per token name: rate tokens a second up to
// burst. The set of names is fixed at construction (the tokens file), so
// it does not grow with requests.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	level float64
	at    time.Time
}

func newLimiter(names []string, rate float64, burst int, now func() time.Time) *limiter {
	l := &limiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[string]*bucket, len(names))}
	t := now()
	for _, n := range names {
		l.buckets[n] = &bucket{level: l.burst, at: t}
	}
	return l
}

// allow takes one request from name's bucket; when empty it returns false
// and how long until one is available.
func (l *limiter) allow(name string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[name]
	if !ok {
		return 0, false
	}
	now := l.now()
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.level = min(l.burst, b.level+dt*l.rate)
	}
	b.at = now
	if b.level >= 1 {
		b.level--
		return 0, true
	}
	return time.Duration((1 - b.level) / l.rate * float64(time.Second)), false
}
