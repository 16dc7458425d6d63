package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	Readings     int
	Stations     int
	Partitions   int
	PubClients   int
	SkipTelegraf bool
	SkipE2E      bool
	E2ERates     []float64
	// E2EEmbeddedRates are the load tests run on the embedded stack
	// (`run --dev`: the embedded MQTT broker and Kafka-protocol log).
	E2EEmbeddedRates []float64
	E2EDuration      time.Duration
	E2EStations      int
	E2EDrain         time.Duration
	Timeout          time.Duration
	Stall            time.Duration
	Telegraf         string
	// TelegrafBatch1/2 are metric_batch_size of hop 1 and hop 2;
	// TelegrafUndelivered max_undelivered_messages of both inputs.
	TelegrafBatch1, TelegrafBatch2, TelegrafUndelivered int
	Resilience                                          string
	TelegrafDir                                         string
	Go                                                  string
	Keep                                                bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == pahoDrainCmd {
		os.Exit(pahoDrain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, stderr)
	if rep != nil {
		rep.print(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// parseFlags reads and checks the flags.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var rates, embeddedRates string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Readings, "readings", 200000, "backlog size: QoS 1 readings published while each drainer is offline")
	fs.IntVar(&o.Stations, "stations", 1000, "stations the backlog comes from")
	fs.IntVar(&o.Partitions, "partitions", 6, "Kafka partitions of the run's topics")
	fs.IntVar(&o.PubClients, "publishers", 8, "MQTT connections publishing the backlog")
	fs.BoolVar(&o.SkipTelegraf, "skip-telegraf", false, "do not build or run Telegraf (its column and the ratios stay empty)")
	fs.BoolVar(&o.SkipE2E, "skip-e2e", false, "do not run the end-to-end load tests")
	fs.StringVar(&rates, "e2e-rates", "1000,5000,10000", "comma-separated msg/s of the end-to-end load tests")
	fs.StringVar(&embeddedRates, "e2e-embedded-rates", "10000", "comma-separated msg/s of the end-to-end load tests on the embedded stack (empty: none)")
	fs.DurationVar(&o.E2EDuration, "e2e-duration", 60*time.Second, "publishing time of each end-to-end load test")
	fs.IntVar(&o.E2EStations, "e2e-stations", 1000, "stations of the end-to-end load tests")
	fs.DurationVar(&o.E2EDrain, "e2e-drain", 2*time.Minute, "how long each load test waits for the backlog after publishing")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "longest time one drain may take")
	fs.DurationVar(&o.Stall, "stall", time.Minute, "a drain that makes no progress for this long fails")
	fs.StringVar(&o.Telegraf, "telegraf", "", "Telegraf binary (empty: build or reuse with deployments/local/telegraf/build-telegraf.sh)")
	fs.IntVar(&o.TelegrafBatch1, "telegraf-batch1", 500, "Telegraf hop 1 (MQTT->Kafka) metric_batch_size (the collector writes batches of 500)")
	fs.IntVar(&o.TelegrafBatch2, "telegraf-batch2", 5000, "Telegraf hop 2 (Kafka->InfluxDB) metric_batch_size (the processor's batches are 5000)")
	fs.IntVar(&o.TelegrafUndelivered, "telegraf-undelivered", 10000, "Telegraf inputs' max_undelivered_messages (at least two of hop 2's batches)")
	fs.StringVar(&o.Resilience, "resilience", "", "resilience binary (empty: build ./cmd/resilience of this tree)")
	fs.StringVar(&o.TelegrafDir, "telegraf-dir", "deployments/local/telegraf", "directory of Telegraf's build script and config templates")
	fs.StringVar(&o.Go, "go", "go", "go command used to build ./cmd/resilience and ./cmd/loadtest")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory, the topics and the buckets")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.E2ERates, err = parseRates("-e2e-rates", rates); err != nil {
		return o, err
	}
	if o.E2EEmbeddedRates, err = parseRates("-e2e-embedded-rates", embeddedRates); err != nil {
		return o, err
	}
	return o, o.validate()
}

// parseRates parses "1000,5000,10000", the value of flag name.
func parseRates(name, s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive rate", name, f)
		}
		out = append(out, r)
	}
	return out, nil
}

func (o options) validate() error {
	var errs []error
	if o.Stations < 1 || o.Stations > 99999 {
		errs = append(errs, errors.New("-stations: between 1 and 99999"))
	}
	if o.Readings < o.Stations {
		errs = append(errs, errors.New("-readings: at least one per station (-stations)"))
	}
	if o.Partitions < 1 || o.PubClients < 1 {
		errs = append(errs, errors.New("-partitions and -publishers: at least 1"))
	}
	if o.E2EDuration <= 0 || o.E2EStations < 1 || o.E2EDrain <= 0 {
		errs = append(errs, errors.New("-e2e-duration, -e2e-stations and -e2e-drain: positive"))
	}
	if o.TelegrafBatch1 < 1 || o.TelegrafBatch2 < 1 || o.TelegrafUndelivered < 1 {
		errs = append(errs, errors.New("-telegraf-batch1, -telegraf-batch2 and -telegraf-undelivered: at least 1"))
	}
	if o.Timeout <= 0 || o.Stall <= 0 {
		errs = append(errs, errors.New("-timeout and -stall: positive"))
	}
	return errors.Join(errs...)
}
