package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/resilience-project/resilience/processor/backtest"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

const backtestUsage = `usage: resilience rules backtest --stations FILE [--rules FILE] SOURCE [flags]

Runs the rules over stored history and prints what would have fired and
when, with lead times before the target (default: water level at BĐ III).

SOURCE is one of:
  --csv FILE     rows ts,station,sensor,value[,seq]
  --lp PATH      line protocol as the processor writes it (the 'reading'
                 measurement): a file, a directory of *.lp files (the embedded
                 stack's data/points) or a glob; timestamps in --precision
  --influx-url URL --influx-org ORG --influx-bucket B --start RFC3339 [--stop RFC3339]
                 the 'reading' measurement of an InfluxDB 2 bucket; the token
                 comes from --influx-token-file or RESILIENCE_INFLUX_TOKEN
`

// backtestCmd implements `resilience rules backtest`.
func backtestCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backtestUsage); fs.PrintDefaults() }
	stationsPath := fs.String("stations", "deployments/config/stations.yaml", "station registry")
	rulesPath := fs.String("rules", "", "rules file (empty: built-in defaults)")
	csvPath := fs.String("csv", "", "CSV history")
	lpPath := fs.String("lp", "", "line-protocol history: a file, a directory of *.lp files or a glob")
	precision := fs.String("precision", "ms", "line protocol: timestamp precision (ns, us, ms, s)")
	iurl := fs.String("influx-url", "", "InfluxDB 2 URL")
	iorg := fs.String("influx-org", "resilience", "InfluxDB organisation")
	ibucket := fs.String("influx-bucket", "readings", "InfluxDB bucket")
	itok := fs.String("influx-token-file", "", "file holding a read token")
	start := fs.String("start", "", "InfluxDB: start of the period (RFC 3339)")
	stop := fs.String("stop", "", "InfluxDB: end of the period (RFC 3339, default now)")
	targetRule := fs.String("target-rule", "level:water_level", "rule whose first event is the outcome")
	targetLevel := fs.Int("target-level", 3, "level of the target rule that counts as the outcome")
	noProgress := fs.Bool("no-progress", false, "no progress bar")
	asJSON := fs.Bool("json", false, "print each alert event as one line of JSON (the alert event schema) instead of the table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	reg, err := schemas.LoadRegistry(*stationsPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set := rules.DefaultRuleSet()
	if *rulesPath != "" {
		if set, err = rules.LoadRuleSet(*rulesPath); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	engine, err := rules.NewEngine(set, reg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var recs []schemas.Record
	switch {
	case *csvPath != "":
		recs, err = readFile(*csvPath, backtest.ReadCSV)
	case *lpPath != "":
		recs, err = readLineProtocol(*lpPath, *precision)
	case *iurl != "":
		recs, err = readInflux(*iurl, *iorg, *ibucket, *itok, *start, *stop)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Replay in event time, as the devices produced them.
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS.Before(recs[j].TS) })
	opt := backtest.Options{TargetRule: *targetRule, TargetLevel: *targetLevel}
	if !*noProgress && len(recs) >= 10000 {
		opt.Progress = func(done, total int) {
			const width = 40
			n := width * done / total
			fmt.Fprintf(stderr, "\r[%s%s] %3d%% %d/%d records", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*done/total, done, total)
			if done == total {
				fmt.Fprintln(stderr)
			}
		}
	}
	res := backtest.Run(engine, recs, opt)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for i := range res.Events {
			if err := enc.Encode(&res.Events[i]); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
		}
		return 0
	}
	printBacktest(stdout, res)
	return 0
}

// readLineProtocol reads a file, every *.lp file of a directory, or every
// file a glob matches, in name order (the embedded stack's day files sort
// by date).
func readLineProtocol(path, precision string) ([]schemas.Record, error) {
	prec, err := backtest.ParsePrecision(precision)
	if err != nil {
		return nil, fmt.Errorf("--precision: %w", err)
	}
	files := []string{path}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.lp"))
	} else if err != nil {
		if files, err = filepath.Glob(path); err != nil {
			return nil, fmt.Errorf("--lp: %w", err)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--lp %s: no line-protocol files", path)
	}
	sort.Strings(files)
	var recs []schemas.Record
	for _, f := range files {
		r, err := readFile(f, func(r io.Reader) ([]schemas.Record, error) { return backtest.ReadLineProtocol(r, prec) })
		if err != nil {
			return nil, err
		}
		recs = append(recs, r...)
	}
	return recs, nil
}

// readInflux reads the `reading` measurement of a bucket (see README,
// "Where the data lands").
func readInflux(url, org, bucket, tokFile, start, stop string) ([]schemas.Record, error) {
	src := backtest.InfluxSource{URL: url, Org: org, Bucket: bucket, Token: os.Getenv("RESILIENCE_INFLUX_TOKEN")}
	if start == "" {
		return nil, errors.New("--start: required with --influx-url")
	}
	var err error
	if src.Start, err = time.Parse(time.RFC3339, start); err != nil {
		return nil, fmt.Errorf("--start: %q is not RFC 3339", start)
	}
	if stop != "" {
		if src.Stop, err = time.Parse(time.RFC3339, stop); err != nil {
			return nil, fmt.Errorf("--stop: %q is not RFC 3339", stop)
		}
	}
	if tokFile != "" {
		b, err := os.ReadFile(tokFile)
		if err != nil {
			return nil, fmt.Errorf("--influx-token-file: %w", err)
		}
		src.Token = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return backtest.ReadInflux(ctx, src)
}

func readFile(path string, read func(io.Reader) ([]schemas.Record, error)) ([]schemas.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

func printBacktest(w io.Writer, res backtest.Result) {
	fmt.Fprintf(w, "%d records (%d late, %d duplicate), %d alert events, %d notices\n\n",
		res.Records, res.Late, res.Duplicates, len(res.Events), len(res.Notices))
	fmt.Fprintf(w, "%-20s %-12s %-18s %-26s %5s %-12s %10s %10s\n", "time (UTC)", "kind", "station", "rule", "level", "severity", "value", "threshold")
	for _, e := range res.Events {
		fmt.Fprintf(w, "%-20s %-12s %-18s %-26s %5d %-12s %10.3f %10.3f\n", e.At.UTC().Format("2006-01-02 15:04:05"),
			e.Kind, e.Station, e.Rule, e.Level, e.Severity, e.Value, e.Threshold)
	}
	if len(res.Leads) > 0 {
		fmt.Fprintf(w, "\nlead times before the target outcome:\n")
		for _, l := range res.Leads {
			fmt.Fprintf(w, "  %-18s %-26s level %d at %s: %s before %s\n", l.Event.Station, l.Event.Rule, l.Event.Level,
				l.Event.At.UTC().Format("2006-01-02 15:04"), l.Lead.Round(time.Minute), l.Target.UTC().Format("2006-01-02 15:04"))
		}
	}
	for _, n := range res.Notices {
		fmt.Fprintf(w, "notice %s %s: %s (%s)\n", n.Station, n.Kind, n.Detail, n.At.UTC().Format(time.RFC3339))
	}
}
