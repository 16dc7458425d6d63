package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		n        int
		min, max time.Duration
		want     time.Duration
	}{
		{1, 100 * ms, 5 * time.Second, 100 * ms},
		{2, 100 * ms, 5 * time.Second, 200 * ms},
		{3, 100 * ms, 5 * time.Second, 400 * ms},
		{6, 100 * ms, 5 * time.Second, 3200 * ms},
		{7, 100 * ms, 5 * time.Second, 5 * time.Second}, // 6.4 s capped
		{1000, 100 * ms, 5 * time.Second, 5 * time.Second},
		{1 << 30, 100 * ms, 5 * time.Second, 5 * time.Second}, // no overflow, no long loop
		{0, 100 * ms, 5 * time.Second, 100 * ms},              // attempt numbers below 1 act as the first
		{-3, 100 * ms, 5 * time.Second, 100 * ms},
		{1, 10 * time.Second, 5 * time.Second, 5 * time.Second}, // min above max: max wins
		{4, 50 * ms, 500 * ms, 400 * ms},
		{5, 50 * ms, 500 * ms, 500 * ms},
	}
	for _, tc := range cases {
		if got := Ceiling(tc.n, tc.min, tc.max); got != tc.want {
			t.Errorf("Ceiling(%d, %v, %v) = %v, want %v", tc.n, tc.min, tc.max, got, tc.want)
		}
	}
}

// TestBackoffJitters: every wait lies between min and the envelope, and
// the waits of one attempt number are spread over that interval rather
// than all equal (the retries of many clients must not align).
func TestBackoffJitters(t *testing.T) {
	const ms = time.Millisecond
	cases := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 100 * ms, 5 * time.Second},
		{3, 100 * ms, 5 * time.Second},
		{7, 100 * ms, 5 * time.Second},
		{1 << 30, 200 * ms, 5 * time.Second},
		{4, 50 * ms, 500 * ms},
	}
	for _, tc := range cases {
		lo, hi := tc.min, Ceiling(tc.n, tc.min, tc.max)
		seen := map[time.Duration]bool{}
		below, above := false, false // draws in the lower and upper half
		for i := 0; i < 2000; i++ {
			d := Backoff(tc.n, tc.min, tc.max)
			if d < lo || d > hi {
				t.Fatalf("Backoff(%d, %v, %v) = %v, outside [%v, %v]", tc.n, tc.min, tc.max, d, lo, hi)
			}
			seen[d] = true
			mid := lo + (hi-lo)/2
			below = below || d < mid
			above = above || d > mid
		}
		if hi > lo && (len(seen) < 100 || !below || !above) {
			t.Errorf("Backoff(%d, %v, %v): %d distinct waits in 2000 draws (lower half %v, upper half %v): not jittered",
				tc.n, tc.min, tc.max, len(seen), below, above)
		}
	}
	// No interval: the envelope itself.
	if d := Backoff(1, 10*time.Second, 5*time.Second); d != 5*time.Second {
		t.Errorf("Backoff with min above max = %v, want the max", d)
	}
	if d := Backoff(1, 0, 0); d != 0 {
		t.Errorf("Backoff(1, 0, 0) = %v, want 0", d)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
}
