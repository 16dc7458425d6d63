package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

// errStalled is returned by track when a drain makes no progress for the
// stall time.
var errStalled = errors.New("bench: drain stalled")

// errExited is returned by track when the drainer exits before the end.
var errExited = errors.New("bench: drainer exited")

// sample is one observation of a drain: how many messages were through
// and the drainer's CPU seconds at that moment.
type sample struct {
	At    time.Time
	Count int64
	CPU   float64
	// Servers is the CPU seconds of Mosquitto, Kafka and InfluxDB
	// (serverNames), -1 where unknown.
	Servers [3]float64
}

// serverNames are the servers whose CPU a sample holds, in order.
var serverNames = [3]string{harness.Mosquitto, harness.Kafka, harness.InfluxDB}

// drain is one measured drain: the first observation with messages through
// and the first with all of them.
type drain struct {
	First, Last sample
}

// Rate is messages per second from the first to the last observation.
func (d drain) Rate() float64 {
	s := d.Last.At.Sub(d.First.At).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(d.Last.Count-d.First.Count) / s
}

// CPUPer10k is the drainer's CPU seconds per 10,000 messages between the
// two observations.
func (d drain) CPUPer10k() float64 {
	n := d.Last.Count - d.First.Count
	if n <= 0 {
		return 0
	}
	return (d.Last.CPU - d.First.CPU) / float64(n) * 1e4
}

// Cores is the drainer's CPU seconds per second of the drain.
func (d drain) Cores() float64 {
	if d.Seconds() <= 0 {
		return 0
	}
	return (d.Last.CPU - d.First.CPU) / d.Seconds()
}

// ServerCores is each server's CPU seconds per second of the drain (1.00:
// one core busy all along; Mosquitto has one thread), -1 where unknown.
func (d drain) ServerCores() [3]float64 {
	var out [3]float64
	for i := range out {
		a, b := d.First.Servers[i], d.Last.Servers[i]
		if a < 0 || b < 0 || d.Seconds() <= 0 {
			out[i] = -1
			continue
		}
		out[i] = (b - a) / d.Seconds()
	}
	return out
}

// Seconds is the span between the two observations.
func (d drain) Seconds() float64 { return d.Last.At.Sub(d.First.At).Seconds() }

// trackSpec is what track polls.
type trackSpec struct {
	Hop   string // names the hop in errors, e.g. "MQTT->Kafka telegraf"
	Want  int64
	Count func(context.Context) (int64, error)
	CPU   func() (float64, error)
	// Servers reads the servers' CPU seconds (nil: unknown).
	Servers func() [3]float64
	// Exited is closed when a drainer process exits (nil: never).
	Exited   <-chan struct{}
	Timeout  time.Duration
	Stall    time.Duration
	Interval time.Duration
}

// track polls Count every Interval until it reaches Want and returns the
// drain between the first observation above zero and the first at Want.
// It fails on Timeout, on no progress for Stall, on Exited and on ctx; the
// error names the hop and the count reached.
func track(ctx context.Context, sp trackSpec) (drain, error) {
	if sp.Interval <= 0 {
		sp.Interval = 50 * time.Millisecond
	}
	var d drain
	deadline := time.Now().Add(sp.Timeout)
	var lastCount int64
	lastMove := time.Now()
	tick := time.NewTicker(sp.Interval)
	defer tick.Stop()
	for {
		n, err := sp.Count(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return d, fmt.Errorf("%s: %w", sp.Hop, ctx.Err())
			}
			return d, fmt.Errorf("%s: counting: %w", sp.Hop, err)
		}
		now := time.Now()
		if n > lastCount {
			lastCount, lastMove = n, now
		}
		if n > 0 && d.First.At.IsZero() || n >= sp.Want {
			cpu, err := sp.CPU()
			if err != nil {
				return d, fmt.Errorf("%s: %w", sp.Hop, err)
			}
			s := sample{At: now, Count: n, CPU: cpu, Servers: [3]float64{-1, -1, -1}}
			if sp.Servers != nil {
				s.Servers = sp.Servers()
			}
			if d.First.At.IsZero() {
				d.First = s
			}
			if n >= sp.Want {
				d.Last = s
				return d, nil
			}
		}
		switch {
		case now.After(deadline):
			return d, fmt.Errorf("%s: %d of %d after %s: %w", sp.Hop, n, sp.Want, sp.Timeout, context.DeadlineExceeded)
		case now.Sub(lastMove) > sp.Stall:
			return d, fmt.Errorf("%s: %d of %d, none more for %s: %w", sp.Hop, n, sp.Want, sp.Stall, errStalled)
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("%s: %d of %d: %w", sp.Hop, n, sp.Want, ctx.Err())
		case <-sp.Exited:
			return d, fmt.Errorf("%s: %d of %d: %w", sp.Hop, n, sp.Want, errExited)
		case <-tick.C:
		}
	}
}
