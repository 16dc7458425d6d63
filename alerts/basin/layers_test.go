package basin

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/resilience-project/resilience/"

// moduleImports returns the module packages dir's non-test Go files
// import, transitively, keyed by import path.
func moduleImports(t *testing.T, dir string, seen map[string]bool) {
	t.Helper()
	p, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		if !strings.HasPrefix(imp, module) || seen[imp] {
			continue
		}
		seen[imp] = true
		moduleImports(t, filepath.Join("../..", strings.TrimPrefix(imp, module)), seen)
	}
}

// TestNoRuleEngine: the alerts service's basin evaluator reads the rules
// file model only; it does not compile in the processor's rule engine.
func TestNoRuleEngine(t *testing.T) {
	seen := map[string]bool{}
	moduleImports(t, ".", seen)
	if !seen[module+"schemas/rulespec"] {
		t.Fatalf("basin does not use schemas/rulespec: %v", seen)
	}
	for imp := range seen {
		if strings.HasPrefix(imp, module+"processor") {
			t.Errorf("basin imports %s", imp)
		}
	}
}
