package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// options are the command-line flags.
type options struct {
	Stations   int
	Rate       float64
	Duration   time.Duration
	Mode       string
	Clients    int
	Inflight   int
	Cycle      int
	High       int
	Partitions int
	Drain      time.Duration
	Go         string
	Keep       bool
	NoSync     bool
	Influx     bool
	Timings    string
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Stations, "stations", 200, "simulated stations")
	fs.Float64Var(&o.Rate, "rate", 1000, "messages per second, all stations together")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "publishing time (rate*duration messages)")
	fs.StringVar(&o.Mode, "mode", "embedded", "embedded (in-process brokers, no servers) or servers (MQTT_URL, KAFKA_BROKERS, INFLUX_* from the environment)")
	fs.IntVar(&o.Clients, "clients", 8, "MQTT publisher connections")
	fs.IntVar(&o.Inflight, "inflight", 1000, "unacknowledged QoS 1 messages per connection")
	fs.IntVar(&o.Cycle, "cycle", 20, "readings per station per alert cycle")
	fs.IntVar(&o.High, "high", 3, "high readings at the end of each cycle (they fire an alert; the next normal one resolves it)")
	fs.IntVar(&o.Partitions, "partitions", 6, "Kafka partitions of the run's topics")
	fs.DurationVar(&o.Drain, "drain", 2*time.Minute, "how long to wait after publishing for every reading to be processed")
	fs.StringVar(&o.Go, "go", "go", "go command used to build ./cmd/resilience")
	fs.BoolVar(&o.NoSync, "embedded-no-sync", false, "mode embedded: kafka.embedded.no_sync (the log does not fsync; the MQTT broker's store still does)")
	fs.BoolVar(&o.Influx, "influx", true, "mode servers: write points to a new InfluxDB bucket (false: to line-protocol files, as in mode embedded)")
	fs.StringVar(&o.Timings, "timings", "", "write every measured alert's times (station, seq, publish, alerts record, receipt; unix µs) to this CSV file")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (config, binary log) and, in mode servers, the topics and bucket")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, stderr)
	if rep != nil {
		rep.print(stdout)
		if o.Timings != "" {
			if err := rep.writeTimings(o.Timings); err != nil {
				fmt.Fprintln(stderr, "loadtest:", err)
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 1
	}
	if msg := rep.loss(); msg != "" {
		fmt.Fprintln(stderr, "loadtest: FAIL:", msg)
		return 1
	}
	return 0
}

func (o options) validate() error {
	var errs []error
	if o.Stations < 1 || o.Stations > 99999 {
		errs = append(errs, errors.New("-stations: between 1 and 99999"))
	}
	if o.Rate <= 0 {
		errs = append(errs, errors.New("-rate: must be positive"))
	}
	if o.Duration <= 0 {
		errs = append(errs, errors.New("-duration: must be positive"))
	}
	if o.Mode != "embedded" && o.Mode != "servers" {
		errs = append(errs, fmt.Errorf("-mode: %q: embedded or servers", o.Mode))
	}
	if o.Clients < 1 || o.Inflight < 1 || o.Partitions < 1 {
		errs = append(errs, errors.New("-clients, -inflight and -partitions: at least 1"))
	}
	if o.High < 1 || o.Cycle < o.High+1 {
		errs = append(errs, errors.New("-high: at least 1, and -cycle: more than -high (a normal reading resolves each alert)"))
	}
	if int(o.Rate*o.Duration.Seconds()) < 1 {
		errs = append(errs, errors.New("-rate * -duration: less than one message"))
	}
	return errors.Join(errs...)
}

// run does one load test; the report is returned as far as it got.
func run(ctx context.Context, o options, logw io.Writer) (_ *report, err error) {
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, "loadtest: "+format+"\n", a...)
	}
	dir, removeDir, err := workDir(o.Keep, logf)
	if err != nil {
		return nil, err
	}
	defer removeDir()
	st, err := prepareStack(ctx, o, dir, logf)
	if err != nil {
		return nil, err
	}
	defer st.cleanup()
	spec := harness.ProcSpec{Bin: st.bin, Name: "resilience", Mode: "run", Config: filepath.Join(dir, "resilience.yaml"),
		HTTP: st.httpAddr, Log: filepath.Join(dir, "resilience.log"), Args: st.args}
	logf("starting resilience run %s (mode %s, http %s)", strings.Join(spec.Args, " "), o.Mode, st.httpAddr)
	p, err := harness.StartProc(spec)
	if err != nil {
		return nil, err
	}
	failed := true
	defer func() { err = stopProc(p, logw, failed, err) }()
	if err := p.WaitReady(ctx, 2*time.Minute); err != nil {
		return nil, err
	}
	rep, err := measure(ctx, o, st, p, logf)
	if err == nil {
		failed = rep.loss() != ""
	}
	return rep, err
}

// workDir makes the run's temporary directory; remove deletes it unless
// keep.
func workDir(keep bool, logf func(string, ...any)) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp("", "resilience-loadtest-")
	if err != nil {
		return "", nil, err
	}
	if keep {
		logf("keeping %s", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// stackSetup is how the binary under test runs and where it is reached.
type stackSetup struct {
	bin      string
	args     []string // after run --config <dir>/resilience.yaml --http.listen <httpAddr>
	ids      []string // the simulated stations
	name     string   // the run's unique name (topic prefix and bucket in mode servers)
	prefix   string   // the topic prefix ("" in mode embedded)
	httpAddr string
	mqttURL  string
	brokers  []string
	// cleanup removes what mode servers created (topics, bucket), unless
	// -keep; a no-op in mode embedded.
	cleanup func()
}

// prepareStack builds the binary and writes its station registry and
// configuration into dir for o.Mode. On an error it has cleaned up.
func prepareStack(ctx context.Context, o options, dir string, logf func(string, ...any)) (stackSetup, error) {
	logf("building ./cmd/resilience")
	bin, err := harness.BuildWith(ctx, o.Go, dir)
	if err != nil {
		return stackSetup{}, err
	}
	st := stackSetup{bin: bin, ids: stationIDs(o.Stations), cleanup: func() {}}
	if err := os.WriteFile(filepath.Join(dir, "stations.yaml"), []byte(registryYAML(st.ids)), 0o600); err != nil {
		return st, err
	}
	if st.name, err = harness.UniqueName("lt"); err != nil {
		return st, err
	}
	if st.httpAddr, err = harness.FreeAddr(); err != nil {
		return st, err
	}
	var cfg string
	switch o.Mode {
	case "embedded":
		cfg, err = st.embedded(o)
	case "servers":
		cfg, err = st.servers(ctx, o, dir, logf)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "resilience.yaml"), []byte(cfg), 0o600)
	}
	if err != nil {
		st.cleanup()
		return st, err
	}
	return st, nil
}

// embedded sets up mode embedded (the binary's in-process brokers on free
// ports) and returns its configuration.
func (st *stackSetup) embedded(o options) (string, error) {
	mqttAddr, err := harness.FreeAddr()
	if err != nil {
		return "", err
	}
	kafkaAddr, err := harness.FreeAddr()
	if err != nil {
		return "", err
	}
	st.mqttURL, st.brokers = "tcp://"+mqttAddr, []string{kafkaAddr}
	st.args = append(st.args, "--dev")
	return fmt.Sprintf(`stations_file: stations.yaml
data_dir: data
mqtt:
  embedded:
    listen: %s
kafka:
  partitions: %d
  embedded:
    listen: %s
    no_sync: %t
`, mqttAddr, o.Partitions, kafkaAddr, o.NoSync), nil
}

// servers sets up mode servers (the servers named by the environment,
// with topics, and a bucket, of the run's own) and returns its
// configuration.
func (st *stackSetup) servers(ctx context.Context, o options, dir string, logf func(string, ...any)) (string, error) {
	srv, err := harness.LoadServers(os.Getenv)
	if err != nil {
		return "", fmt.Errorf("mode servers: %w", err)
	}
	st.mqttURL, st.brokers, st.prefix = srv.MQTTURL, srv.KafkaBrokers, st.name+"."
	cleanup, err := prepareServers(ctx, srv, o.Influx, dir, st.name, o.Keep, logf)
	if err != nil {
		return "", err
	}
	st.cleanup = cleanup
	return serversConfig(srv, o.Influx, o.Partitions, st.name), nil
}

// stopProc stops the binary, which exits 0 after SIGTERM (anything else is
// a failure), and prints the tail of its log if the run failed. It returns
// err, or the exit error if err is nil.
func stopProc(p *harness.Proc, logw io.Writer, failed bool, err error) error {
	if serr := p.Stop(30 * time.Second); serr != nil {
		failed = true
		if err == nil {
			err = fmt.Errorf("resilience exit: %w", serr)
		}
	}
	if failed {
		fmt.Fprintf(logw, "--- resilience log (tail of %s) ---\n%s\n", p.Log, p.LogTail(6000))
	}
	return err
}

// measure publishes the load to the ready binary, waits for it to be
// processed and for its alerts, and reports; the report is returned as far
// as it got.
func measure(ctx context.Context, o options, st stackSetup, p *harness.Proc, logf func(string, ...any)) (*report, error) {
	base, err := harness.Scrape(ctx, st.httpAddr)
	if err != nil {
		return nil, err
	}
	watch := harness.WatchAlerts(st.brokers, schemas.Topics(st.prefix).Alerts, o.Partitions)
	defer watch.Close()

	total := int(o.Rate * o.Duration.Seconds())
	pat := newPattern(o.Cycle, o.High, st.ids)
	rep := &report{opts: o, total: total, pat: pat}
	// Poll the processed count from the start of publishing.
	poll := startPoll(ctx, st.httpAddr, base, p.Done())
	logf("publishing %d messages from %d stations at %.0f msg/s for %s", total, o.Stations, o.Rate, o.Duration)
	pub, err := publish(ctx, pubConfig{URL: st.mqttURL, Prefix: st.name, Stations: st.ids, Rate: o.Rate, Total: total,
		Clients: o.Clients, Inflight: o.Inflight, Pattern: pat})
	rep.pub = pub
	if err != nil {
		poll.abort()
		return rep, fmt.Errorf("publish: %w", err)
	}
	logf("published %d (%d acknowledged) in %s; waiting for processing (up to %s)", pub.Sent, pub.Acked,
		pub.Last.Sub(pub.First).Round(time.Millisecond), o.Drain)
	rep.prog = poll.wait(pub.Sent, o.Drain)
	awaitFired(watch, len(pat.cycles(pub.High)))
	rep.alertsRecv, rep.alertsProduced, rep.alertKinds = alertsSeen(watch)
	if m, err := harness.Scrape(context.Background(), st.httpAddr); err == nil {
		rep.final = m
	}
	return rep, nil
}

// poller runs pollProcessed in the background.
type poller struct {
	cancel context.CancelFunc
	target chan int
	polled chan progress
}

// startPoll starts polling the processed count of the binary at addr.
func startPoll(ctx context.Context, addr string, base harness.Metrics, exited <-chan struct{}) *poller {
	pctx, cancel := context.WithCancel(ctx)
	pl := &poller{cancel: cancel, target: make(chan int, 1), polled: make(chan progress, 1)}
	go func() { pl.polled <- pollProcessed(pctx, addr, base, pl.target, exited) }()
	return pl
}

// abort stops the polling and waits for it to end.
func (pl *poller) abort() {
	pl.cancel()
	<-pl.polled
}

// wait sets the target count and returns the progress once it is reached,
// drain has passed or the binary exited.
func (pl *poller) wait(target int, drain time.Duration) progress {
	pl.target <- target
	t := time.AfterFunc(drain, pl.cancel)
	prog := <-pl.polled
	t.Stop()
	pl.cancel()
	return prog
}

// awaitFired gives the fired events, which trail the records that cause
// them by one produce, up to 10 s after the last record is processed to
// reach want.
func awaitFired(watch *harness.AlertWatch, want int) {
	for deadline := time.Now().Add(10 * time.Second); firedCount(watch) < want && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
}

// firedCount is the number of measured fired events seen so far.
func firedCount(w *harness.AlertWatch) int {
	fired, _, _ := alertsSeen(w)
	return len(fired)
}

// progress is what pollProcessed saw.
type progress struct {
	Processed int       // records processed (outcomes ok, late, bad: not duplicate or unknown_station)
	Done      time.Time // first scrape with Processed >= target; zero if never
	Ingested  int       // records the collector wrote to Kafka
	IngestAt  time.Time // first scrape with Ingested >= target; zero if never
	Last      time.Time // last scrape
	Err       error
}

// pollProcessed scrapes /metrics every 50 ms, once the target is sent on
// target (the publishers are done), until the processed count (minus
// base) reaches it, ctx is done or the binary exits. It also notes when
// the collector's count reached the target (on a shared broker that count
// includes other publishers' messages: a lower bound). It does not scrape
// while the publishers run: 20 scrapes a second of every metric were 7%
// of the binary's CPU at 1,000 msg/s, load the run is not about.
func pollProcessed(ctx context.Context, addr string, base harness.Metrics, target <-chan int, exited <-chan struct{}) progress {
	// Duplicates (MQTT redeliveries) and other publishers' readings do not
	// count: a reading is processed once its first copy is.
	const name, dup, foreign = "resilience_processor_records_total", `outcome="duplicate"`, `outcome="unknown_station"`
	const ingested = "resilience_ingest_records_total"
	want := -1
	var pr progress
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case want = <-target:
		case <-t.C:
		case <-ctx.Done():
			return pr
		case <-exited:
			pr.Err = errors.New("resilience exited")
			return pr
		}
		if want < 0 {
			continue
		}
		m, err := harness.Scrape(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return pr
			}
			pr.Err = err
			continue
		}
		pr.Processed = int(m.Sum(name, dup, foreign) - base.Sum(name, dup, foreign))
		pr.Ingested = int(m.Sum(ingested) - base.Sum(ingested))
		pr.Last = time.Now()
		if want >= 0 && pr.Ingested >= want && pr.IngestAt.IsZero() {
			pr.IngestAt = pr.Last
		}
		if want >= 0 && pr.Processed >= want {
			pr.Done = pr.Last
			return pr
		}
	}
}

// report is the outcome of a run.
type report struct {
	opts       options
	pat        pattern
	total      int
	pub        pubResult
	prog       progress
	alertsRecv map[key]time.Time
	// alertsProduced is the alerts record's Kafka time per measured event.
	alertsProduced map[key]time.Time
	alertKinds     map[string]int
	final          harness.Metrics
}

// latencies are the publish->alert latencies of the measured fired
// events, sorted (each against the publish time of the reading the event
// names as its cause), the number of alert cycles expected (a station's
// cycle with at least one high reading published) and how many of those
// fired no event; unexpected counts fired events that name a reading that
// was not high.
func (r *report) latencies() (lat []time.Duration, expected, missing, unexpected int) {
	want := r.pat.cycles(r.pub.High)
	for k, rt := range r.alertsRecv {
		pt, ok := r.pub.High[k]
		if !ok {
			unexpected++
			continue
		}
		lat = append(lat, rt.Sub(pt))
		want[cycleKey{k.Station, r.pat.cycle(k.Station, k.Seq)}] = true
	}
	for _, seen := range want {
		if !seen {
			missing++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, len(want), missing, unexpected
}

// percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted d.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*q+0.999999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// loss describes lost readings or alerts; empty if none.
func (r *report) loss() string {
	var msgs []string
	if r.pub.Sent < r.total {
		msgs = append(msgs, fmt.Sprintf("published %d of %d messages", r.pub.Sent, r.total))
	}
	if r.pub.Errors > 0 || r.pub.Acked < r.pub.Sent {
		msgs = append(msgs, fmt.Sprintf("%d of %d publishes not acknowledged (first error: %v)", r.pub.Sent-r.pub.Acked, r.pub.Sent, r.pub.FirstErr))
	}
	if r.prog.Processed < r.pub.Sent {
		msgs = append(msgs, fmt.Sprintf("%d of %d readings not processed within -drain %s", r.pub.Sent-r.prog.Processed, r.pub.Sent, r.opts.Drain))
	}
	if _, expected, missing, unexpected := r.latencies(); missing > 0 || unexpected > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d expected %s fired events not seen, %d unexpected", missing, expected, measuredRule, unexpected))
	}
	return strings.Join(msgs, "; ")
}

func (r *report) print(w io.Writer) {
	o := r.opts
	pubSpan := r.pub.Last.Sub(r.pub.First)
	fmt.Fprintf(w, "\n=== resilience load test (mode %s) ===\n", o.Mode)
	fmt.Fprintf(w, "stations              %d (%d MQTT connections, QoS 1, in flight <= %d each)\n", o.Stations, min(o.Clients, o.Stations), o.Inflight)
	fmt.Fprintf(w, "target rate           %.0f msg/s for %s = %d messages\n", o.Rate, o.Duration, r.total)
	if pubSpan > 0 {
		fmt.Fprintf(w, "achieved publish rate %.0f msg/s (%d published in %s; %d acknowledged)\n",
			float64(r.pub.Sent)/pubSpan.Seconds(), r.pub.Sent, pubSpan.Round(time.Millisecond), r.pub.Acked)
	} else {
		fmt.Fprintf(w, "achieved publish rate n/a (%d published)\n", r.pub.Sent)
	}
	if !r.prog.Done.IsZero() {
		e2e := r.prog.Done.Sub(r.pub.First)
		fmt.Fprintf(w, "end-to-end throughput %.0f readings/s (%d processed in %s from first publish; processed %s after last publish)\n",
			float64(r.pub.Sent)/e2e.Seconds(), r.prog.Processed, e2e.Round(time.Millisecond), r.prog.Done.Sub(r.pub.Last).Round(time.Millisecond))
		if !r.prog.IngestAt.IsZero() {
			fmt.Fprintf(w, "                      (collector had written all to Kafka %s after first publish, %s after last publish)\n",
				r.prog.IngestAt.Sub(r.pub.First).Round(time.Millisecond), r.prog.IngestAt.Sub(r.pub.Last).Round(time.Millisecond))
		}
	} else {
		fmt.Fprintf(w, "end-to-end throughput n/a: %d of %d processed when polling stopped (last error: %v)\n", r.prog.Processed, r.pub.Sent, r.prog.Err)
	}
	lat, expected, missing, unexpected := r.latencies()
	fmt.Fprintf(w, "alerts measured       %d %s fired events (expected %d, missing %d, unexpected %d)\n", len(lat), measuredRule, expected, missing, unexpected)
	if len(lat) > 0 {
		fmt.Fprintf(w, "publish->alert        p50 %s  p90 %s  p99 %s  max %s\n",
			ms(percentile(lat, 0.50)), ms(percentile(lat, 0.90)), ms(percentile(lat, 0.99)), ms(lat[len(lat)-1]))
	}
	r.printHops(w)
	r.printOverTime(w)
	var kinds []string
	for k, n := range r.alertKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "alert events          %s\n", strings.Join(kinds, ", "))
	if m := r.final; m != nil {
		fmt.Fprintf(w, "binary metrics        ingest messages %.0f, records %.0f, rejected %.0f; processor records %s\n",
			m.Sum("resilience_ingest_messages_total"), m.Sum("resilience_ingest_records_total"),
			m.Sum("resilience_ingest_rejected_total"), outcomes(m))
		if _, ok := m["resilience_embedded_mqtt_dropped_total"]; ok {
			fmt.Fprintf(w, "                      embedded MQTT dropped %.0f\n", m.Sum("resilience_embedded_mqtt_dropped_total"))
		}
		fmt.Fprintf(w, "                      requests: collector Kafka produces %.0f, processor batches %.0f, InfluxDB writes %.0f\n",
			m.Sum("resilience_ingest_kafka_produce_seconds_count"), m.Sum("resilience_processor_batch_seconds_count"),
			m.Sum("resilience_influx_write_seconds_count"))
		if _, ok := m["resilience_influx_lines_total"]; ok {
			fmt.Fprintf(w, "                      influx lines %.0f, write errors %.0f\n",
				m.Sum("resilience_influx_lines_total"), m.Sum("resilience_influx_write_errors_total"))
		}
	}
	if l := r.loss(); l != "" {
		fmt.Fprintf(w, "LOSS                  %s\n", l)
	} else {
		fmt.Fprintf(w, "loss                  none (every reading acknowledged and processed, every expected alert seen)\n")
	}
}

// printHops splits the publish->alert latency at the alerts record's
// Kafka time: publish->produced is the collector, Kafka and the
// processor; produced->received is Kafka and this tool's reader.
func (r *report) printHops(w io.Writer) {
	var toProd, toRecv []time.Duration
	for k, rt := range r.alertsRecv {
		pt, ok := r.pub.High[k]
		at := r.alertsProduced[k]
		if !ok || at.IsZero() {
			continue
		}
		toProd, toRecv = append(toProd, at.Sub(pt)), append(toRecv, rt.Sub(at))
	}
	if len(toProd) == 0 {
		return
	}
	for _, d := range [][]time.Duration{toProd, toRecv} {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	}
	fmt.Fprintf(w, "  publish->produced   p50 %s  p99 %s  max %s (the alerts record's Kafka time)\n",
		ms(percentile(toProd, 0.5)), ms(percentile(toProd, 0.99)), ms(toProd[len(toProd)-1]))
	fmt.Fprintf(w, "  produced->received  p50 %s  p99 %s  max %s\n",
		ms(percentile(toRecv, 0.5)), ms(percentile(toRecv, 0.99)), ms(toRecv[len(toRecv)-1]))
}

// writeTimings writes the measured alerts' times to a CSV file, ordered
// by publish time.
func (r *report) writeTimings(path string) error {
	type row struct {
		k           key
		pub, at, rt time.Time
	}
	var rows []row
	for k, rt := range r.alertsRecv {
		if pt, ok := r.pub.High[k]; ok {
			rows = append(rows, row{k, pt, r.alertsProduced[k], rt})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].pub.Before(rows[j].pub) })
	var b strings.Builder
	b.WriteString("station,seq,published_us,produced_us,received_us\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "%s,%d,%d,%d,%d\n", x.k.Station, x.k.Seq, x.pub.UnixMicro(), x.at.UnixMicro(), x.rt.UnixMicro())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("-timings: %w", err)
	}
	return nil
}

// printOverTime prints the latency by publish time, in up to 10 slices
// of the publishing span, to tell warm-up and backlog from steady state.
func (r *report) printOverTime(w io.Writer) {
	span := r.pub.Last.Sub(r.pub.First)
	if span <= 0 || len(r.alertsRecv) == 0 {
		return
	}
	slice := max(time.Second, (span / 10).Round(time.Second))
	var buckets [][]time.Duration
	for k, rt := range r.alertsRecv {
		pt, ok := r.pub.High[k]
		if !ok {
			continue
		}
		i := int(pt.Sub(r.pub.First) / slice)
		for len(buckets) <= i {
			buckets = append(buckets, nil)
		}
		buckets[i] = append(buckets[i], rt.Sub(pt))
	}
	fmt.Fprintf(w, "latency by publish time:\n")
	for i, b := range buckets {
		if len(b) == 0 {
			continue
		}
		sort.Slice(b, func(x, y int) bool { return b[x] < b[y] })
		fmt.Fprintf(w, "  %6s-%-6s n=%-5d p50 %-10s p99 %-10s max %s\n", time.Duration(i)*slice, time.Duration(i+1)*slice,
			len(b), ms(percentile(b, 0.5)), ms(percentile(b, 0.99)), ms(b[len(b)-1]))
	}
}

func outcomes(m harness.Metrics) string {
	var parts []string
	for labels, v := range m["resilience_processor_records_total"] {
		parts = append(parts, fmt.Sprintf("%s %.0f", strings.Trim(strings.TrimPrefix(labels, "outcome="), `"`), v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
