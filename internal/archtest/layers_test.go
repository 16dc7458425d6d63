package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/resilience-project/resilience"

// exceptions are upward imports that exist today and are owned by work in
// progress elsewhere; each names why. A new upward import is not here, so
// it fails the test. An exception that is no longer needed is reported in
// the log so that it can be removed.
var exceptions = map[string]string{}

// components are the top-level trees of the component layer.
var components = map[string]bool{"ingest": true, "processor": true, "alerts": true}

// layer classifies a module-relative package path: schemas, internal,
// component (with its tree), cmd, or "" (unclassified).
func layer(p string) (name, tree string) {
	top, _, _ := strings.Cut(p, "/")
	switch {
	case top == "schemas":
		return "schemas", top
	case top == "internal":
		return "internal", top
	case components[top]:
		return "component", top
	case top == "cmd":
		return "cmd", p
	}
	return "", top
}

// allowed reports whether package from may import package to (both
// module-relative), and why not.
func allowed(from, to string) (bool, string) {
	fl, ft := layer(from)
	tl, tt := layer(to)
	switch {
	case fl == "":
		return false, fmt.Sprintf("%s is in no layer (add its top-level folder to the layer table)", from)
	case tl == "":
		return false, fmt.Sprintf("%s is in no layer (add its top-level folder to the layer table)", to)
	case tl == "cmd":
		return false, "nothing imports a binary"
	case fl == "cmd":
		return true, ""
	case fl == "schemas":
		return tl == "schemas", "schemas import only schemas/*"
	case fl == "internal":
		return tl == "schemas" || tl == "internal", "internal packages import only schemas and internal"
	case fl == "component" && tl == "component":
		return ft == tt, fmt.Sprintf("component %s imports component %s (they meet through Kafka topics or cmd wiring)", ft, tt)
	}
	return true, "" // a component imports schemas or internal
}

// violations checks a graph (package -> imports, module-relative) and
// returns the upward imports not in exceptions, sorted, and the exceptions
// that the graph no longer needs.
func violations(graph map[string][]string) (bad, stale []string) {
	used := map[string]bool{}
	for from, imps := range graph {
		for _, to := range imps {
			ok, why := allowed(from, to)
			if ok {
				continue
			}
			edge := from + " -> " + to
			if _, known := exceptions[edge]; known {
				used[edge] = true
				continue
			}
			bad = append(bad, edge+": "+why)
		}
	}
	for e := range exceptions {
		if !used[e] {
			stale = append(stale, e)
		}
	}
	sort.Strings(bad)
	sort.Strings(stale)
	return bad, stale
}

// moduleGraph lists the module's packages and their non-test imports of
// the module, module-relative.
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		from, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		graph[from] = nil
		for _, imp := range p.Imports {
			if to, ok := strings.CutPrefix(imp, module+"/"); ok {
				graph[from] = append(graph[from], to)
			}
		}
	}
	return graph
}

// TestLayers: no package of the module imports one of a layer above it
// (see the package documentation).
func TestLayers(t *testing.T) {
	graph := moduleGraph(t)
	for _, must := range []string{"schemas", "internal/config", "internal/httpapi", "ingest", "processor", "alerts", "cmd/resilience"} {
		if _, ok := graph[must]; !ok {
			t.Fatalf("go list did not list %s: %v", must, graph)
		}
	}
	bad, stale := violations(graph)
	for _, v := range bad {
		t.Errorf("upward import: %s", v)
	}
	for _, e := range stale {
		t.Logf("exception no longer needed (remove it from exceptions): %s", e)
	}
}

// TestLayerRules: the rule table rejects each kind of upward import and
// accepts the downward ones, so TestLayers cannot pass by accepting
// everything.
func TestLayerRules(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"schemas", "schemas/rulespec", true},
		{"schemas/rulespec", "schemas", true},
		{"schemas", "internal/retry", false},
		{"schemas", "processor", false},
		{"internal/kafkax", "internal/retry", true},
		{"internal/httpapi", "schemas", true},
		{"internal/config", "ingest", false},
		{"internal/config", "processor/influxsink", false},
		{"internal/httpapi", "processor", false},
		{"internal/httpapi", "alerts/store", false},
		{"internal/embedded", "cmd/resilience", false},
		{"processor", "processor/rules", true},
		{"processor", "internal/kafkax", true},
		{"processor", "schemas", true},
		{"alerts", "alerts/store", true},
		{"alerts", "processor", false},
		{"alerts/notify", "processor/rules", false},
		{"processor", "alerts/store", false},
		{"ingest", "processor", false},
		{"processor", "ingest", false},
		{"cmd/resilience", "processor", true},
		{"cmd/resilience", "internal/httpapi", true},
		{"cmd/loadtest", "cmd/resilience", false},
		{"tools/gen", "schemas", false},
	}
	for _, tc := range tests {
		if ok, why := allowed(tc.from, tc.to); ok != tc.ok {
			t.Errorf("allowed(%s -> %s) = %v (%s), want %v", tc.from, tc.to, ok, why, tc.ok)
		}
	}
	// A graph with one new upward import fails; the known ones fine.
	bad, stale := violations(map[string][]string{
		"internal/httpapi": {"schemas", "processor"},
		"alerts/basin":     {"schemas/rulespec", "schemas"},
	})
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "internal/httpapi -> processor: ") {
		t.Errorf("violations = %q, want the one httpapi -> processor", bad)
	}
	if len(stale) != 0 {
		t.Errorf("stale = %q, want none", stale)
	}
}
