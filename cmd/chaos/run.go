package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// env is what every scenario shares: the servers and the binary.
type env struct {
	srv harness.Servers
	bin string
	dir string
	log *slog.Logger
}

// scenario is one fault and how to inject it.
type scenario struct {
	ID, Title string
	// Long scenarios (minutes of fault) run only in `make chaos`.
	Long bool
	// Collectors and Processors to start (default 1 each; one alerts service).
	Collectors, Processors int
	// Rate per station (default 1 msg/s).
	Rate float64
	// Setup may put proxies in front of servers before the processes start.
	Setup func(ctx context.Context, r *run) error
	// Fault injects the fault and heals it; it sets r.FaultFrom/FaultTo via
	// r.faultStart and r.faultEnd.
	Fault func(ctx context.Context, r *run) error
}

// run is one execution of a scenario.
type run struct {
	*harness.Scenario
	env   *env
	sc    scenario
	Cfg   harness.Config
	cfg   string
	Load  *harness.Load
	Watch *harness.AlertWatch

	FaultFrom, FaultTo time.Time
	// killed holds processes the scenario killed on purpose.
	killed   map[*harness.Proc]bool
	cleanups []func()
	notes    []string

	influxProxy *harness.HTTPProxy
	mqttProxy   *harness.TCPProxy
}

func (r *run) faultStart() { r.FaultFrom = time.Now() }
func (r *run) faultEnd()   { r.FaultTo = time.Now() }

// note records a line for the report.
func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// cleanup registers f to run when the scenario ends (last first).
func (r *run) cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// start (re)starts process name in mode and waits until it is ready.
func (r *run) start(ctx context.Context, name, mode string) (*harness.Proc, error) {
	return r.Start(ctx, name, mode, r.cfg)
}

// kill9 kills process name on purpose.
func (r *run) kill9(name string) {
	p := r.Proc(name)
	r.killed[p] = true
	p.Kill()
}

// term stops process name with SIGTERM on purpose; an unclean exit is
// reported.
func (r *run) term(name string) {
	p := r.Proc(name)
	r.killed[p] = true
	if err := p.Stop(30 * time.Second); err != nil {
		r.note("%s: SIGTERM: %v", name, err)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// result is one row of the table.
type result struct {
	ID, Title string
	V         *harness.Verdict
	Drain     time.Duration // -1: not measured
	PeakRSS   int64
	P99       time.Duration
	NLat      int
	Took      time.Duration
	Err       error
	Notes     []string
}

func (r result) ok() bool { return r.Err == nil && r.V != nil && r.V.OK() }

func (r result) status() string {
	switch {
	case r.Err != nil:
		return "ERROR"
	case r.V == nil || !r.V.OK():
		return "FAIL"
	}
	return "ok"
}

func (r result) problems() []string {
	var out []string
	if r.Err != nil {
		out = append(out, "error: "+r.Err.Error())
	}
	if r.V != nil {
		out = append(out, r.V.Problems...)
	}
	return append(out, r.Notes...)
}

// Phases of every scenario, around the fault.
const (
	warmup    = 5 * time.Second
	afterward = 5 * time.Second
	// drainTimeout bounds the wait for the pipeline to catch up after the
	// load stopped (generous: a busy 2-core machine, Kafka's JVM).
	drainTimeout = 4 * time.Minute
)

// execute runs one scenario from setup to cleanup.
func execute(ctx context.Context, e *env, sc scenario) (res result) {
	start := time.Now()
	res = result{ID: sc.ID, Title: sc.Title, Drain: -1}
	defer func() { res.Took = time.Since(start) }()
	s, err := harness.New(ctx, e.srv, harness.Options{Name: sc.ID, Bin: e.bin, Dir: filepath.Join(e.dir, sc.ID), Logger: e.log})
	if err != nil {
		res.Err = err
		return res
	}
	r := &run{Scenario: s, env: e, sc: sc, killed: map[*harness.Proc]bool{}}
	defer func() {
		res.Notes = append(res.Notes, r.notes...)
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		// Every server must be up again for the next scenario and the lead's tests.
		for _, svc := range []string{harness.Mosquitto, harness.Kafka, harness.InfluxDB} {
			if err := e.srv.Up(context.Background(), svc); err != nil {
				res.Err = errors.Join(res.Err, err)
			}
		}
		if err := s.Close(); err != nil {
			e.log.Warn("cleanup", "scenario", s.ID, "err", err)
		}
	}()
	if err := r.body(ctx, &res); err != nil {
		res.Err = err
		for _, p := range s.Procs() {
			if ok, _ := p.Exited(); ok && !r.killed[p] {
				res.Notes = append(res.Notes, fmt.Sprintf("%s exited: log tail:\n%s", p.Name, indent(p.LogTail(1500))))
			}
		}
	}
	return res
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ")
}

// body is the scenario's timeline.
func (r *run) body(ctx context.Context, res *result) error {
	sc := r.sc
	if sc.Setup != nil {
		if err := sc.Setup(ctx, r); err != nil {
			return err
		}
	}
	var err error
	if r.cfg, err = r.WriteConfig("resilience", r.Cfg); err != nil {
		return err
	}
	for i := 1; i <= max(1, sc.Processors); i++ {
		if _, err := r.start(ctx, fmt.Sprintf("process-%d", i), "process"); err != nil {
			return err
		}
	}
	if _, err := r.start(ctx, "alerts-1", "alerts"); err != nil {
		return err
	}
	for i := 1; i <= max(1, sc.Collectors); i++ {
		if _, err := r.start(ctx, fmt.Sprintf("ingest-%d", i), "ingest"); err != nil {
			return err
		}
	}
	r.Watch = harness.WatchAlerts(r.Servers.KafkaBrokers, r.Topics.Alerts, r.Partitions)
	defer r.Watch.Close()
	r.Load = r.StartLoad(harness.LoadConfig{Rate: sc.Rate})
	loadStopped := false
	defer func() {
		if !loadStopped {
			r.Load.Stop(10 * time.Second)
		}
	}()
	if err := sleep(ctx, warmup); err != nil {
		return err
	}
	if err := sc.Fault(ctx, r); err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	if r.FaultFrom.IsZero() || r.FaultTo.IsZero() {
		return errors.New("fault: the scenario did not mark its fault window")
	}
	drained := make(chan time.Duration, 1)
	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	go func() { drained <- r.drainTime(dctx) }()
	if err := sleep(ctx, afterward); err != nil {
		return err
	}
	if left := r.Load.Stop(2 * time.Minute); left > 0 {
		r.note("publishers gave up with %d messages unsent", left)
	}
	loadStopped = true
	entries := r.Load.Ledger.Entries()
	// Wait until every expected reading is stored (or the deadline), then
	// until the expected alert events are there.
	want := storedSeqs(entries)
	werr := harness.WaitFor(ctx, "every reading in InfluxDB", drainTimeout, time.Second, func(ctx context.Context) (bool, error) {
		got, _, err := harness.InfluxSeqs(ctx, r.Servers, r.ID)
		return err == nil && complete(got, want), err
	})
	if werr != nil {
		r.note("%v", werr)
	}
	select {
	case d := <-drained:
		res.Drain = d
	case <-time.After(5 * time.Second):
	}
	var in harness.Inputs
	var v *harness.Verdict
	var expected map[string]schemas.AlertEvent
	cerr := harness.WaitFor(ctx, "every expected alert event", time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		if in, err = r.Collect(ctx); err != nil {
			return false, err
		}
		if v, expected, err = r.Check(entries, in, engineEvaluate(r.Registry)); err != nil {
			return false, err
		}
		// The alerts service's store must hold the same, each event once.
		got, serr := harness.AlertsAPI(ctx, r.Proc("alerts-1").HTTP)
		if serr != nil {
			v.StoreMismatches = 1
			v.Problems = append(v.Problems, serr.Error())
		} else {
			r.CheckStore(v, expected, got)
		}
		return (v.EventsMissing == 0 && v.StoreMismatches == 0) || werr != nil, nil
	})
	if v == nil {
		return cerr
	}
	res.V = v
	lat := harness.Latencies(entries, expected, r.Watch.Seen(), r.FaultFrom, r.FaultTo)
	res.NLat, res.P99 = len(lat), harness.Percentile(lat, 99)
	// Every process still running must be alive and stop cleanly.
	for _, p := range r.Procs() {
		if ok, err := p.Exited(); ok && !r.killed[p] {
			v.Problems = append(v.Problems, fmt.Sprintf("%s died on its own (%v); log tail:\n%s", p.Name, err, indent(p.LogTail(1500))))
			res.Err = errors.Join(res.Err, fmt.Errorf("%s exited unexpectedly: %v", p.Name, err))
		}
	}
	res.PeakRSS = r.PeakRSS()
	for _, err := range r.StopAll(30 * time.Second) {
		r.note("stop: %v", err)
	}
	return nil
}

// drainTime measures from the end of the fault until InfluxDB holds every
// reading generated before it ended (-1 if ctx ends first).
func (r *run) drainTime(ctx context.Context) time.Duration {
	healed := r.FaultTo
	var want map[string]map[uint64]bool
	for {
		if want == nil || len(want) == 0 {
			var es []harness.Entry
			for _, e := range r.Load.Ledger.Entries() {
				if !e.Created.After(healed) {
					es = append(es, e)
				}
			}
			want = storedSeqs(es)
		}
		got, _, err := harness.InfluxSeqs(ctx, r.Servers, r.ID)
		if err == nil && complete(got, want) {
			return time.Since(healed)
		}
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func storedSeqs(entries []harness.Entry) map[string]map[uint64]bool {
	out := map[string]map[uint64]bool{}
	for _, e := range entries {
		if e.Fate.Kind == harness.Stored {
			if out[e.Station] == nil {
				out[e.Station] = map[uint64]bool{}
			}
			out[e.Station][e.Seq] = true
		}
	}
	return out
}

func complete(got map[string]map[uint64]int, want map[string]map[uint64]bool) bool {
	for st, seqs := range want {
		for seq := range seqs {
			if got[st][seq] == 0 {
				return false
			}
		}
	}
	return true
}

// signalServer sends sig to a server, registering SIGCONT as a cleanup
// for SIGSTOP.
func (r *run) signalServer(svc string, sig syscall.Signal) error {
	if sig == syscall.SIGSTOP {
		r.cleanup(func() { r.Servers.Signal(svc, syscall.SIGCONT) })
	}
	return r.Servers.Signal(svc, sig)
}
