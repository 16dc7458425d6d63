package rules

import "testing"

// TestAfterNear: afterNear is after from any starting index, for times
// before, at, between and past the samples.
func TestAfterNear(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64} {
		h := make([]sample, n)
		for i := range h {
			h[i].TS = int64(10 * (i + 1))
		}
		for pos := int64(-5); pos <= int64(10*n+15); pos++ {
			want := after(h, pos)
			for near := -1; near <= n; near++ {
				if got := afterNear(h, pos, near); got != want {
					t.Fatalf("n %d pos %d near %d: afterNear %d, after %d", n, pos, near, got, want)
				}
			}
		}
	}
}
