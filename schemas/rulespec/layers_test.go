package rulespec

import (
	"go/build"
	"strings"
	"testing"
)

// TestLeaf: the rules file model imports only the standard library, yaml
// and package schemas, so every deployable can use it.
func TestLeaf(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
		if !std && imp != "gopkg.in/yaml.v3" && imp != "github.com/resilience-project/resilience/schemas" {
			t.Errorf("rulespec imports %s", imp)
		}
	}
}
