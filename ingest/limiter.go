package ingest

import (
	"sync"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// share is one station's part of the collector: a token bucket and the
// count of its messages held unacknowledged.
type share struct {
	station  string // "" for every station not in the registry
	tokens   float64
	last     time.Time
	pending  int
	deferred int // of pending, how many wait in the excess lane
	limited  int // rate-limited since the last log line
	loggedAt time.Time
}

// limiter gives every station a bounded share (defect "a flooding station
// starves the others"). Its map is built once from the registry and never
// grows: stations not in the registry (rejected by the decoder anyway)
// share one bucket.
type limiter struct {
	rate       float64 // tokens per second; 0: no rate limit
	burst      float64
	maxPending int
	now        func() time.Time

	mu     sync.Mutex
	shares map[string]*share
	other  *share
}

func newLimiter(cfg Config, reg *schemas.Registry, now func() time.Time) *limiter {
	l := &limiter{rate: cfg.StationRate, burst: float64(cfg.StationBurst), maxPending: cfg.stationMaxUndelivered(), now: now,
		shares: make(map[string]*share, reg.Len()), other: &share{tokens: float64(cfg.StationBurst)}}
	for _, id := range reg.IDs() {
		l.shares[id] = &share{station: id, tokens: l.burst}
	}
	return l
}

// verdict is where admit puts a message.
type verdict uint8

const (
	// within: a token was available and the station holds fewer than
	// maxPending messages: the main lane.
	within verdict = iota
	// deferred: the station is over its rate but holds fewer than
	// maxPending messages: written like any other, after the stations
	// within their rate (fair queuing). A backlog the broker delivers at
	// once after an outage of ours is deferred, never dropped.
	deferred
	// over: the station already holds maxPending unacknowledged messages:
	// the excess is dead-lettered as rate_limited without decoding.
	over
)

// admit takes one message of station (from the topic; "" if none) and says
// where it goes (see verdict). A within or deferred message counts as
// pending until release. logNow is set at most once per 10 s per station
// while it is over its rate or share, with the count.
func (l *limiter) admit(station string) (sh *share, v verdict, logNow bool, count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh = l.shares[station]
	if sh == nil {
		sh = l.other
	}
	now := l.now()
	if l.rate > 0 {
		if !sh.last.IsZero() {
			if d := now.Sub(sh.last).Seconds(); d > 0 {
				sh.tokens = min(l.burst, sh.tokens+d*l.rate)
			}
		}
		sh.last = now
	}
	switch {
	case sh.pending >= l.maxPending:
		v = over
	case sh.deferred > 0 || l.rate > 0 && sh.tokens < 1:
		// Behind its own deferred messages too, so its readings keep their
		// order into Kafka.
		v = deferred
	default:
		if l.rate > 0 {
			sh.tokens--
		}
	}
	if v != within {
		sh.limited++
		if sh.loggedAt.IsZero() || now.Sub(sh.loggedAt) >= 10*time.Second {
			logNow, count = true, sh.limited
			sh.loggedAt, sh.limited = now, 0
		}
	}
	if v != over {
		sh.pending++
	}
	if v == deferred {
		sh.deferred++
	}
	return sh, v, logNow, count
}

// release gives back the pending place of an admitted message.
func (l *limiter) release(sh *share, deferred bool) {
	l.mu.Lock()
	sh.pending--
	if deferred {
		sh.deferred--
	}
	l.mu.Unlock()
}
