package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture (the kernel scales its internal HZ to it).
const clockTicks = 100

// errStatFormat is returned by parseStat for a line that is not a
// /proc/<pid>/stat line.
var errStatFormat = errors.New("bench: not a /proc/<pid>/stat line")

// procStat is what bench reads from one /proc/<pid>/stat.
type procStat struct {
	Pid  int
	Comm string
	// CPU is utime+stime in seconds.
	CPU float64
}

// parseStat parses one /proc/<pid>/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("%w: %.60q", errStatFormat, line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("%w: pid: %v", errStatFormat, err)
	}
	// After ')': state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(line[end+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%w: %d fields after the command", errStatFormat, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("%w: utime/stime: %v", errStatFormat, err)
	}
	return procStat{Pid: pid, Comm: line[open+1 : end], CPU: float64(ut+st) / clockTicks}, nil
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// cpuOf is the CPU seconds of pids together.
func cpuOf(pids ...int) (float64, error) {
	var sum float64
	for _, pid := range pids {
		s, err := readStat(pid)
		if err != nil {
			return 0, err
		}
		sum += s.CPU
	}
	return sum, nil
}

// snapshot is the CPU of every process at one moment, by pid.
type snapshot map[int]procStat

// takeSnapshot reads /proc/*/stat (processes that vanish meanwhile are
// skipped). The command line replaces the short comm where readable.
func takeSnapshot() snapshot {
	s := snapshot{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		if cl, err := os.ReadFile(d + "/cmdline"); err == nil && len(cl) > 0 {
			st.Comm = shortCmdline(string(cl))
		}
		s[pid] = st
	}
	return s
}

// shortCmdline makes a NUL-separated command line readable in one short
// column: the program's base name and the arguments; a long one keeps its
// start and its end (where a server's config file, naming its work tree,
// usually is), 100 characters at most.
func shortCmdline(cl string) string {
	args := strings.Split(strings.TrimRight(cl, "\x00"), "\x00")
	args[0] = filepath.Base(args[0])
	s := strings.Join(args, " ")
	if len(s) > 100 {
		s = s[:30] + " ... " + s[len(s)-63:]
	}
	return s
}

// cpuUse is one process's CPU between two snapshots.
type cpuUse struct {
	Pid  int
	Comm string
	CPU  float64
}

// topUsers returns the processes that used the most CPU between before and
// after (a process started meanwhile counts from zero), at most n, with at
// least minCPU seconds, most first; total is every process's use.
func topUsers(before, after snapshot, n int, minCPU float64) (top []cpuUse, total float64) {
	for pid, a := range after {
		d := a.CPU
		if b, ok := before[pid]; ok && b.Comm == a.Comm {
			d -= b.CPU
		}
		if d <= 0 {
			continue
		}
		total += d
		if d >= minCPU {
			top = append(top, cpuUse{Pid: pid, Comm: a.Comm, CPU: d})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].CPU != top[j].CPU {
			return top[i].CPU > top[j].CPU
		}
		return top[i].Pid < top[j].Pid
	})
	if len(top) > n {
		top = top[:n]
	}
	return top, total
}

// numCPU is the number of cores the machine has.
func numCPU() int { return runtime.NumCPU() }
