package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

const backtestUsage = `usage: resilience rules backtest --stations FILE [--rules FILE] SOURCE [flags]

Runs the rules over stored history and prints what would have fired and
when, with lead times before the target (default: water level at BĐ III).

SOURCE is one of:
  --csv FILE     rows ts,station,sensor,value[,seq]
  --lp FILE      InfluxDB line protocol (station tag, sensor=value fields)
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
	lpPath := fs.String("lp", "", "line-protocol history")
	iurl := fs.String("influx-url", "", "InfluxDB 2 URL")
	iorg := fs.String("influx-org", "resilience", "InfluxDB organisation")
	ibucket := fs.String("influx-bucket", "readings", "InfluxDB bucket")
	itok := fs.String("influx-token-file", "", "file holding a read token")
	start := fs.String("start", "", "InfluxDB: start of the period (RFC 3339)")
	stop := fs.String("stop", "", "InfluxDB: end of the period (RFC 3339, default now)")
	targetRule := fs.String("target-rule", "level:water_level", "rule whose first event is the outcome")
	targetLevel := fs.Int("target-level", 3, "level of the target rule that counts as the outcome")
	noProgress := fs.Bool("no-progress", false, "no progress bar")
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
		recs, err = readFile(*csvPath, rules.ReadCSV)
	case *lpPath != "":
		recs, err = readFile(*lpPath, rules.ReadLineProtocol)
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
	opt := rules.BacktestOptions{TargetRule: *targetRule, TargetLevel: *targetLevel}
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
	res := rules.Backtest(engine, recs, opt)
	printBacktest(stdout, res)
	return 0
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

// readInflux reads the `reading` measurement (see README, "Where the data
// lands") back into records, one per (station, time, seq).
func readInflux(url, org, bucket, tokFile, start, stop string) ([]schemas.Record, error) {
	if start == "" {
		return nil, errors.New("--start: required with --influx-url")
	}
	for _, t := range []string{start, stop} {
		if t != "" {
			if _, err := time.Parse(time.RFC3339, t); err != nil {
				return nil, fmt.Errorf("--start/--stop: %q is not RFC 3339", t)
			}
		}
	}
	tok := os.Getenv("RESILIENCE_INFLUX_TOKEN")
	if tokFile != "" {
		b, err := os.ReadFile(tokFile)
		if err != nil {
			return nil, fmt.Errorf("--influx-token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	stopExpr := "now()"
	if stop != "" {
		stopExpr = stop
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "reading" and (r._field == "value" or r._field == "seq"))
  |> pivot(rowKey: ["_time", "station", "sensor"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time"])`, bucket, start, stopExpr)
	cl := influxdb2.NewClient(url, tok)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := cl.QueryAPI(org).Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("influx query %s bucket %s: %w", url, bucket, err)
	}
	type key struct {
		station string
		ts      int64
		seq     int64
	}
	byKey := map[key]*schemas.Record{}
	var order []key
	for res.Next() {
		r := res.Record()
		st, _ := r.ValueByKey("station").(string)
		sensor, _ := r.ValueByKey("sensor").(string)
		v, okv := r.ValueByKey("value").(float64)
		seq, _ := r.ValueByKey("seq").(int64)
		if !okv || !schemas.ValidStationID(st) {
			continue
		}
		k := key{st, r.Time().UnixNano(), seq}
		rec := byKey[k]
		if rec == nil {
			rec = &schemas.Record{V: schemas.RecordVersion, Station: st, Seq: uint64(seq), TS: r.Time().UTC()}
			byKey[k] = rec
			order = append(order, k)
		}
		rec.Readings = append(rec.Readings, schemas.Measurement{Sensor: schemas.Sensor(sensor), Value: v, Unit: schemas.Specs[schemas.Sensor(sensor)].Unit})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx query: %w", err)
	}
	out := make([]schemas.Record, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, nil
}

func printBacktest(w io.Writer, res rules.BacktestResult) {
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
