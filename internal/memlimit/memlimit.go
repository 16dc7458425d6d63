package memlimit

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Auto and Off are the settings that are not sizes.
const (
	Auto = "auto"
	Off  = "off"
)

// cgroupShare is the part of a cgroup's memory limit that auto gives the
// Go heap: the rest is for what the runtime does not count (the binary,
// thread stacks outside Go, the page cache the kernel charges).
const cgroupShare = 0.9

// ErrBadSize is returned (wrapped, naming the setting) by Parse for a
// setting that is neither auto, off nor a size.
var ErrBadSize = errors.New("want auto, off or a size such as 512MiB")

// Parse reads a size setting: bytes, or a whole number with one of the
// suffixes GiB, MiB, KiB, GB, MB, KB, B. It does not accept auto or off
// (Resolve does). The size is positive and fits an int64.
func Parse(s string) (int64, error) {
	units := [...]struct {
		suffix string
		mult   int64
	}{ // longest first
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: %w", s, ErrBadSize)
	}
	return n * mult, nil
}

// Validate reports whether setting is auto, off, empty (auto) or a size.
func Validate(setting string) error {
	switch setting {
	case "", Auto, Off:
		return nil
	}
	_, err := Parse(setting)
	return err
}

// Env is what Resolve reads of the process's environment.
type Env struct {
	// Getenv reads an environment variable (os.Getenv).
	Getenv func(string) string
	// CgroupLimit is the memory limit of the process's cgroup, false if it
	// has none (CgroupLimit).
	CgroupLimit func() (int64, bool)
}

// Resolve is the limit setting gives in env: the bytes, 0 for none, and
// where it comes from (for the log). GOMEMLIMIT, which the runtime has
// applied already, wins under auto.
func Resolve(setting string, env Env) (int64, string, error) {
	switch setting {
	case Off:
		return 0, "memory_limit: off", nil
	case "", Auto:
		if v := env.Getenv("GOMEMLIMIT"); v != "" && v != Off {
			return 0, "GOMEMLIMIT=" + v + " (applied by the runtime)", nil
		}
		if n, ok := env.CgroupLimit(); ok {
			return int64(float64(n) * cgroupShare), fmt.Sprintf("90%% of the cgroup's memory limit (%d bytes)", n), nil
		}
		return 0, "none (no GOMEMLIMIT, no cgroup memory limit)", nil
	}
	n, err := Parse(setting)
	if err != nil {
		return 0, "", fmt.Errorf("memory_limit: %w", err)
	}
	return n, "memory_limit: " + setting, nil
}

// Apply sets the runtime's soft memory limit to n bytes; n 0 leaves the
// runtime's limit as it is (none, or GOMEMLIMIT's).
func Apply(n int64) {
	if n > 0 {
		debug.SetMemoryLimit(n)
	}
}

// CgroupLimit reads the memory limit of the process's cgroup: cgroup v2's
// memory.max, else v1's memory.limit_in_bytes. "max", a v1 value of
// 2^63 rounded to pages, or no file, is no limit.
func CgroupLimit() (int64, bool) {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		return parseCgroup(string(b))
	}
	return 0, false
}

// parseCgroup reads one memory limit file's content.
func parseCgroup(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if s == "max" || err != nil || n <= 0 || n >= math.MaxInt64/2 {
		return 0, false
	}
	return n, true
}
