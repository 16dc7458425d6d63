package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "only the short scenarios (those `make test` runs)")
	only := fs.String("scenarios", "", "comma-separated scenario ids to run, e.g. F1,F7,BARRAGE (default: all)")
	keep := fs.Bool("keep", false, "keep each scenario's directory (configs, logs)")
	verbose := fs.Bool("v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := harness.LoadServers(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	sel, err := selectScenarios(allScenarios(), *only, *short)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "chaos-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	bin, err := harness.Build(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	e := &env{srv: srv, bin: bin, dir: dir, log: logger}
	var results []result
	for _, sc := range sel {
		fmt.Fprintf(stderr, "chaos: %s %s ...\n", sc.ID, sc.Title)
		res := execute(ctx, e, sc)
		results = append(results, res)
		fmt.Fprintf(stderr, "chaos: %s %s in %s\n", sc.ID, res.status(), res.Took.Round(time.Second))
		for _, p := range res.problems() {
			fmt.Fprintf(stderr, "    %s\n", p)
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTable(stdout, results)
	if *keep {
		fmt.Fprintf(stderr, "chaos: logs and configs kept in %s\n", dir)
	}
	for _, r := range results {
		if !r.ok() {
			return 1
		}
	}
	return 0
}

// selectScenarios picks by id list and -short.
func selectScenarios(all []scenario, only string, short bool) ([]scenario, error) {
	want := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		if id = strings.ToUpper(strings.TrimSpace(id)); id != "" {
			want[id] = true
		}
	}
	known := map[string]bool{}
	var out []scenario
	for _, sc := range all {
		known[sc.ID] = true
		if len(want) > 0 && !want[sc.ID] {
			continue
		}
		if short && sc.Long {
			continue
		}
		out = append(out, sc)
	}
	for id := range want {
		if !known[id] {
			return nil, fmt.Errorf("chaos: unknown scenario %q", id)
		}
	}
	return out, nil
}

// printTable writes the results table.
func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tpublished\tlost\tdup\tunexpected\tdlq miss/wrong\tevents\tmissing\textra\tstore\tdrain\tpeak RSS\tp99 alert (fault)\tresult\t")
	for _, r := range results {
		v := r.V
		if v == nil {
			v = &harness.Verdict{}
		}
		p99 := "-"
		if r.NLat > 0 {
			p99 = fmt.Sprintf("%s (n=%d)", r.P99.Round(time.Millisecond), r.NLat)
		}
		drain := "-"
		if r.Drain >= 0 {
			drain = r.Drain.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s %s\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%d\t%d\t%s\t%.0f MiB\t%s\t%s\t\n", r.ID, r.Title, v.Published, v.Lost, v.Duplicates,
			v.Unexpected, v.DLQMissing, v.DLQWrong, v.EventsExpected, v.EventsMissing, v.EventsExtra, v.StoreMismatches, drain,
			float64(r.PeakRSS)/(1<<20), p99, r.status())
	}
	tw.Flush()
}
