package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	boom, fatal := errors.New("boom"), errors.New("fatal")
	fast := Policy{Min: time.Microsecond, Max: time.Microsecond}
	tests := []struct {
		name      string
		policy    Policy
		failFirst int   // attempts that fail with boom before success
		permAt    int   // attempt that returns Permanent(fatal) (0: never)
		wantCalls int   // calls of fn
		wantIs    error // errors.Is(err, wantIs); nil: err == nil
		wantPerm  bool
	}{
		{"first try", fast, 0, 0, 1, nil, false},
		{"after failures", fast, 3, 0, 4, nil, false},
		{"permanent stops at once", fast, 5, 2, 2, fatal, true},
		{"attempts exhausted", Policy{Min: time.Microsecond, Max: time.Microsecond, Attempts: 3}, 10, 0, 3, ErrExhausted, false},
		{"exhausted keeps the last error", Policy{Min: time.Microsecond, Max: time.Microsecond, Attempts: 2}, 10, 0, 2, boom, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls, retries := 0, 0
			p := tc.policy
			p.OnRetry = func(attempt int, err error, wait time.Duration) {
				retries++
				if attempt != calls || !errors.Is(err, boom) || wait < p.Min || wait > p.Max {
					t.Errorf("OnRetry(%d, %v, %v) after call %d", attempt, err, wait, calls)
				}
			}
			err := Do(context.Background(), p, func(attempt int) error {
				calls++
				if attempt != calls {
					t.Errorf("attempt %d on call %d", attempt, calls)
				}
				if attempt == tc.permAt {
					return Permanent(fatal)
				}
				if attempt <= tc.failFirst {
					return boom
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if tc.wantIs == nil && err != nil || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Do = %v, want %v", err, tc.wantIs)
			}
			if IsPermanent(err) != tc.wantPerm {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, !tc.wantPerm, tc.wantPerm)
			}
			if retries != calls-1 { // every failure but the last is retried
				t.Errorf("OnRetry called %d times, want %d", retries, calls-1)
			}
		})
	}
}

// TestDoStopsWithContext: a context that ends during the wait stops Do,
// which returns the context's error wrapping the last failure; a context
// already done still calls fn once.
func TestDoStopsWithContext(t *testing.T) {
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, Policy{Min: time.Hour, Max: time.Hour, OnRetry: func(int, error, time.Duration) { cancel() }},
		func(int) error { calls++; return boom })
	if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, boom) {
		t.Errorf("Do = %v after %d calls, want Canceled wrapping boom after 1", err, calls)
	}
	calls = 0
	err = Do(ctx, Policy{Min: time.Hour, Max: time.Hour}, func(int) error { calls++; return boom })
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do on a done context = %v after %d calls, want Canceled after 1", err, calls)
	}
	if err := Do(ctx, Policy{}, func(int) error { return nil }); err != nil {
		t.Errorf("Do succeeding on a done context = %v, want nil", err)
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("x")
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) || p.Error() != "x" || IsPermanent(base) {
		t.Errorf("Permanent: %v IsPermanent=%v Is=%v", p, IsPermanent(p), errors.Is(p, base))
	}
	if wrapped := errors.Join(errors.New("ctx"), p); !IsPermanent(wrapped) {
		t.Error("IsPermanent does not see through wrapping")
	}
}
