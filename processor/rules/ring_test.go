package rules

import (
	"math"
	"testing"
)

// TestRingWidensExactly fills a ring past what a one-byte and then a
// two-byte bucket holds and checks that every sum stays exact, before and
// after a resize and a round trip through the state codec.
func TestRingWidensExactly(t *testing.T) {
	const bucket, n, t0 = 10, 8, 1e6 * 10 // event time far from 0, as it is
	r := newRing(bucket, n)
	want := map[int64]uint64{} // bucket number -> rain
	add := func(ts int64, v uint32) {
		r.add(t0+ts, v)
		want[ts/bucket] += uint64(v)
	}
	add(5, 100)
	add(15, math.MaxUint8) // fits
	if r.width() != 1 {
		t.Fatalf("%d bytes a bucket for buckets that fit in one", r.width())
	}
	add(15, 1) // 256: does not fit
	if r.width() != 2 {
		t.Fatalf("%d bytes a bucket after a bucket past 2.55 mm, want 2", r.width())
	}
	add(15, math.MaxUint16-256) // 65,535: fits
	if r.width() != 2 {
		t.Fatalf("%d bytes a bucket for buckets that fit in two", r.width())
	}
	add(15, 1) // 65,536: does not fit
	if r.width() != 4 {
		t.Fatalf("%d bytes a bucket after a bucket past 655.35 mm, want 4", r.width())
	}
	add(25, 70000)
	r.sub(t0+25, 5000)
	want[2] -= 5000
	check := func(what string, r *ring) {
		t.Helper()
		for b := int64(0); b <= 2; b++ {
			if got := r.sumBuckets(t0/bucket+b, t0/bucket+b); got != want[b] {
				t.Errorf("%s: bucket %d holds %d, want %d", what, b, got, want[b])
			}
		}
		if got := r.sum(t0+25, 3*bucket); got != want[0]+want[1]+want[2] {
			t.Errorf("%s: sum %d, want %d", what, got, want[0]+want[1]+want[2])
		}
	}
	check("wide", r)
	check("resized", r.resize(bucket, 2*n))
	s := &State{station: "S", rain: r}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	check("decoded", back.rain)
	if back.rain.width() != 4 {
		t.Errorf("the decoded ring takes %d bytes a bucket but holds one past two bytes", back.rain.width())
	}
}
