package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

func TestSelectScenarios(t *testing.T) {
	all := allScenarios()
	tests := []struct {
		name, only string
		short      bool
		want       []string
		err        bool
	}{
		{name: "all", want: ids(all)},
		{name: "short drops the long ones", short: true, want: without(ids(all), "F6", "F9", "F14")},
		{name: "list", only: "f2, F7", want: []string{"F2", "F7"}},
		{name: "long one in short mode", only: "F6", short: true, want: nil},
		{name: "unknown", only: "F99", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectScenarios(all, tc.only, tc.short)
			if tc.err {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(ids(got), ","); g != strings.Join(tc.want, ",") {
				t.Fatalf("got %s, want %s", g, strings.Join(tc.want, ","))
			}
		})
	}
}

func TestScenariosCoverTheIssue(t *testing.T) {
	all := ids(allScenarios())
	for _, want := range []string{"F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", "F14", "F15", "F16", "BARRAGE"} {
		if !strings.Contains(","+strings.Join(all, ",")+",", ","+want+",") {
			t.Errorf("scenario %s missing", want)
		}
	}
	if n := len(badKinds()); n < 18 {
		t.Errorf("barrage has %d kinds, the issue asks for at least 18", n)
	}
}

func TestBadKindsAreRejectedByTheDecoder(t *testing.T) {
	// Every barrage message the broker passes on must be one the project's
	// decoder rejects with one of the kind's reasons; else the ledger's
	// expectation is wrong, not the pipeline.
	reg := mustRegistry(t, "CX-00")
	now := time.Now()
	for _, k := range badKinds() {
		topic, payload := k.build("CX-00", 7, now)
		if topic == "" {
			topic = "stations/CX-00/readings"
		}
		got := decodeReason(reg, topic, payload, now)
		ok := false
		for _, r := range k.reasons {
			ok = ok || r == got
		}
		if !ok && !(k.refusable && got == "") {
			t.Errorf("%s: decoder says %q, the barrage expects %v", k.label, got, k.reasons)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, []result{
		{ID: "F1", Title: "baseline", V: &harness.Verdict{Published: 100, Stored: 100, EventsExpected: 4}, Drain: 1500 * time.Millisecond, PeakRSS: 50 << 20, P99: 250 * time.Millisecond, NLat: 3},
		{ID: "F2", Title: "kill", V: &harness.Verdict{Published: 10, Lost: 2}, Drain: -1},
	})
	out := b.String()
	for _, want := range []string{"F1 baseline", "1.5s", "50 MiB", "250ms (n=3)", "ok", "F2 kill", "FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func ids(s []scenario) []string {
	var out []string
	for _, sc := range s {
		out = append(out, sc.ID)
	}
	return out
}

func without(list []string, drop ...string) []string {
	var out []string
next:
	for _, x := range list {
		for _, d := range drop {
			if x == d {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}
