package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// e2eResult is what one cmd/loadtest run reported (its summary parsed).
type e2eResult struct {
	Mode       string  // cmd/loadtest -mode: servers or embedded
	Rate       float64 // target msg/s
	Achieved   float64 // achieved publish rate, msg/s
	Throughput float64 // end-to-end readings/s; 0 if it never finished
	// AfterLast is how long after the last publish the last reading was
	// processed (the backlog left at the end of publishing); -1 if never.
	AfterLast time.Duration
	P50, P99  time.Duration
	// FirstP50 and LastP50 are the p50 of the first and the last slice of
	// "latency by publish time": a rise is backlog growth.
	FirstP50, LastP50 time.Duration
	Slices            int
	Unprocessed       int    // readings not processed within the drain
	Loss              string // the LOSS line; empty: none
	Parsed            bool   // a summary was found
	Err               string // the load test's failure, if it failed otherwise
}

var (
	reAchieved = regexp.MustCompile(`^achieved publish rate\s+([0-9.]+) msg/s`)
	reE2E      = regexp.MustCompile(`^end-to-end throughput\s+([0-9.]+) readings/s .*processed (-?[0-9.a-zµ]+) after last publish\)`)
	reE2ENA    = regexp.MustCompile(`^end-to-end throughput n/a: (\d+) of (\d+) processed`)
	reLatency  = regexp.MustCompile(`^publish->alert\s+p50 ([0-9.]+)ms\s+p90 ([0-9.]+)ms\s+p99 ([0-9.]+)ms`)
	reSlice    = regexp.MustCompile(`^\s+\S+-\S+\s+n=\d+\s+p50 ([0-9.]+)ms`)
	reLoss     = regexp.MustCompile(`^LOSS\s+(.*)$`)
	reNotProc  = regexp.MustCompile(`(\d+) of \d+ readings not processed`)
)

// parseLoadtest reads cmd/loadtest's summary (its stdout).
func parseLoadtest(rate float64, out string) (e2eResult, error) {
	r := e2eResult{Rate: rate, AfterLast: -1}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== resilience load test") {
			r.Parsed = true
		}
		var err error
		switch {
		case reAchieved.MatchString(line):
			r.Achieved, err = strconv.ParseFloat(reAchieved.FindStringSubmatch(line)[1], 64)
		case reE2E.MatchString(line):
			m := reE2E.FindStringSubmatch(line)
			if r.Throughput, err = strconv.ParseFloat(m[1], 64); err == nil {
				r.AfterLast, err = time.ParseDuration(m[2])
			}
		case reE2ENA.MatchString(line):
			m := reE2ENA.FindStringSubmatch(line)
			done, _ := strconv.Atoi(m[1])
			total, _ := strconv.Atoi(m[2])
			r.Unprocessed = total - done
		case reLatency.MatchString(line):
			m := reLatency.FindStringSubmatch(line)
			r.P50, err = parseMS(m[1])
			if err == nil {
				r.P99, err = parseMS(m[3])
			}
		case reSlice.MatchString(line):
			var d time.Duration
			if d, err = parseMS(reSlice.FindStringSubmatch(line)[1]); err == nil {
				if r.Slices == 0 {
					r.FirstP50 = d
				}
				r.LastP50 = d
				r.Slices++
			}
		case reLoss.MatchString(line):
			r.Loss = reLoss.FindStringSubmatch(line)[1]
			if m := reNotProc.FindStringSubmatch(r.Loss); m != nil {
				r.Unprocessed, _ = strconv.Atoi(m[1])
			}
		}
		if err != nil {
			return r, fmt.Errorf("loadtest summary: %q: %w", line, err)
		}
	}
	if !r.Parsed {
		return r, fmt.Errorf("loadtest at %.0f msg/s: no summary in its output", rate)
	}
	return r, nil
}

// parseMS parses "12.5" (milliseconds).
func parseMS(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

// e2e builds cmd/loadtest and runs it in mode servers at each rate, then
// in mode embedded at each embedded rate.
func (b *bench) e2e(ctx context.Context, rep *report) error {
	bin := filepath.Join(b.dir, "loadtest")
	b.logf("end to end: building ./cmd/loadtest")
	build := exec.CommandContext(ctx, b.o.Go, "build", "-o", bin, "./cmd/loadtest")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("end to end: build cmd/loadtest: %w", err)
	}
	type run struct {
		mode string
		rate float64
	}
	var runs []run
	for _, r := range b.o.E2ERates {
		runs = append(runs, run{"servers", r})
	}
	for _, r := range b.o.E2EEmbeddedRates {
		runs = append(runs, run{"embedded", r})
	}
	for _, rn := range runs {
		rate := rn.rate
		b.logf("end to end: cmd/loadtest -mode %s -stations %d -rate %.0f -duration %s", rn.mode, b.o.E2EStations, rate, b.o.E2EDuration)
		args := []string{"-mode", rn.mode, "-stations", strconv.Itoa(b.o.E2EStations), "-rate", strconv.FormatFloat(rate, 'f', -1, 64),
			"-duration", b.o.E2EDuration.String(), "-drain", b.o.E2EDrain.String(), "-partitions", strconv.Itoa(b.o.Partitions), "-go", b.o.Go}
		cctx, cancel := context.WithTimeout(ctx, b.o.E2EDuration+b.o.E2EDrain+5*time.Minute)
		out, err := runCmd(cctx, os.Stderr, nil, bin, args...)
		cancel()
		res, perr := parseLoadtest(rate, out)
		res.Mode = rn.mode
		if err != nil {
			// A run with loss exits 1 after its summary: that is a
			// result, not a failure of the benchmark.
			res.Err = err.Error()
		}
		if perr != nil {
			return fmt.Errorf("end to end at %.0f msg/s: %w (exit: %v)", rate, perr, err)
		}
		rep.e2e = append(rep.e2e, res)
	}
	return nil
}
