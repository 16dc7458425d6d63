package memlimit

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"90MiB", 90 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512 KiB", 512 << 10, true},
		{"800MB", 800e6, true},
		{"2GB", 2e9, true},
		{"1000", 1000, true},
		{"64B", 64, true},
		{"", 0, false},
		{"0", 0, false},
		{"-1MiB", 0, false},
		{"1.5GiB", 0, false},
		{"10TiB", 0, false},
		{"MiB", 0, false},
		{"9000000000GiB", 0, false}, // overflows int64
		{"auto", 0, false},
	} {
		got, err := Parse(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSize) {
			t.Errorf("Parse(%q): %v does not wrap ErrBadSize", tc.in, err)
		}
	}
}

func TestResolve(t *testing.T) {
	none := func() (int64, bool) { return 0, false }
	cg := func() (int64, bool) { return 1000 << 20, true }
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, setting, gomemlimit string
		cgroup                    func() (int64, bool)
		want                      int64
		wantErr                   bool
	}{
		{"auto without limits is none", "auto", "", none, 0, false},
		{"empty is auto", "", "", cg, 900 << 20, false},
		{"auto takes 90% of the cgroup", "auto", "", cg, 900 << 20, false},
		{"auto leaves GOMEMLIMIT to the runtime", "auto", "200MiB", cg, 0, false},
		{"GOMEMLIMIT=off is no GOMEMLIMIT", "auto", "off", cg, 900 << 20, false},
		{"a size wins over everything", "90MiB", "200MiB", cg, 90 << 20, false},
		{"off", "off", "", cg, 0, false},
		{"bad", "lots", "", none, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, src, err := Resolve(tc.setting, Env{Getenv: env(tc.gomemlimit), CgroupLimit: tc.cgroup})
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("Resolve = %d (%s), %v; want %d, error %v", got, src, err, tc.want, tc.wantErr)
			}
			if err == nil && src == "" {
				t.Error("no source named")
			}
		})
	}
}

func TestParseCgroup(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"max\n", 0, false},
		{"536870912\n", 512 << 20, true},
		{"9223372036854771712\n", 0, false}, // cgroup v1 "unlimited"
		{"", 0, false},
		{"garbage", 0, false},
	} {
		got, ok := parseCgroup(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCgroup(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParse: Parse never panics, accepts only positive sizes, and
// Validate agrees with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"90MiB", "1GiB", "800MB", "1000", "", "-1", "9000000000GiB", " 5 KiB "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if Validate(s) == nil && s != "" && s != Auto && s != Off {
				t.Fatalf("Validate(%q) accepts what Parse refuses", s)
			}
			return
		}
		if n <= 0 || n > math.MaxInt64 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		if Validate(s) != nil {
			t.Fatalf("Validate(%q) refuses what Parse accepts", s)
		}
	})
}
