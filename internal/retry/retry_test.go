package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
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
		if got := Backoff(tc.n, tc.min, tc.max); got != tc.want {
			t.Errorf("Backoff(%d, %v, %v) = %v, want %v", tc.n, tc.min, tc.max, got, tc.want)
		}
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
