package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
)

// TestChaos runs every short scenario (all but F6, F9 and F14, which only
// `make chaos` runs) against the real servers: nothing lost, no duplicate,
// no unexpected point, every bad message dead-lettered with its reason,
// every expected alert event present and no other. The scenarios stop and
// kill the shared servers, so this package runs after the others.
func TestChaos(t *testing.T) {
	testenv.Services(t) // skip (or fail under CI) without the servers
	srv, err := harness.LoadServers(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	bin, err := harness.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, bin: bin, dir: dir, log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	sel, err := selectScenarios(allScenarios(), os.Getenv("CHAOS_SCENARIOS"), true)
	if err != nil {
		t.Fatal(err)
	}
	var results []result
	defer func() {
		var b strings.Builder
		printTable(&b, results)
		t.Logf("the table (make chaos prints the same):\n%s", b.String())
	}()
	for _, sc := range sel {
		t.Run(sc.ID, func(t *testing.T) {
			res := execute(ctx, e, sc)
			results = append(results, res)
			t.Logf("%s %s: %s in %s", sc.ID, sc.Title, res.status(), res.Took.Round(time.Second))
			if res.Err != nil {
				t.Errorf("error: %v", res.Err)
			}
			v := res.V
			if v == nil {
				for _, p := range res.problems() {
					t.Log(p)
				}
				t.Fatal("no verdict")
			}
			if v.Published == 0 || v.Stored == 0 {
				t.Errorf("the load published %d messages, %d to be stored: nothing was checked", v.Published, v.Stored)
			}
			if v.EventsExpected == 0 {
				t.Errorf("no alert events expected: the load's pattern fires none, so alerts were not checked")
			}
			checks := []struct {
				what string
				n    int
			}{{"never acknowledged by the broker", v.Unsent}, {"readings lost", v.Lost}, {"duplicates in InfluxDB", v.Duplicates},
				{"unexpected points", v.Unexpected}, {"dead letters missing", v.DLQMissing}, {"dead letters wrong", v.DLQWrong},
				{"alert events missing", v.EventsMissing}, {"alert events extra", v.EventsExtra},
				{"alerts store mismatches", v.StoreMismatches}}
			for _, c := range checks {
				if c.n != 0 {
					t.Errorf("%s: %d", c.what, c.n)
				}
			}
			if t.Failed() {
				for _, p := range res.problems() {
					t.Log(p)
				}
			}
		})
	}
}

// testWriter sends slog lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
