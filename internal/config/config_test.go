package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/config"
)

type doc struct {
	Name  string `yaml:"name"`
	Inner struct {
		N int `yaml:"n"`
	} `yaml:"inner"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     doc
		errHas   string
	}{
		{"empty keeps defaults", "", doc{Name: "default"}, ""},
		{"comment only", "# x\n", doc{Name: "default"}, ""},
		{"values over defaults", "inner: {n: 3}\n", doc{Name: "default", Inner: struct {
			N int `yaml:"n"`
		}{3}}, ""},
		{"unknown key", "nmae: x\n", doc{}, "nmae"},
		{"nested unknown key", "inner: {m: 1}\n", doc{}, "m"},
		{"bad type", "inner: {n: many}\n", doc{}, "many"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := doc{Name: "default"}
			err := config.Decode([]byte(tc.in), &d)
			if tc.errHas != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Decode(%q) = %v, want a config: error naming %q", tc.in, err, tc.errHas)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(d, tc.want) {
				t.Fatalf("Decode(%q) = %+v, %v; want %+v", tc.in, d, err, tc.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var gotBase, gotData string
	if err := config.ReadFile(path, func(data []byte, base string) error {
		gotData, gotBase = string(data), base
		return nil
	}); err != nil || gotData != "x" || gotBase != dir {
		t.Fatalf("ReadFile: data %q base %q err %v; want x, %s", gotData, gotBase, err, dir)
	}
	parseErr := errors.New("bad key")
	if err := config.ReadFile(path, func([]byte, string) error { return parseErr }); !errors.Is(err, parseErr) ||
		!strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("ReadFile with a parse error = %v, want it wrapped with the path", err)
	}
	if err := config.ReadFile(filepath.Join(dir, "missing.yaml"), func([]byte, string) error { return nil }); err == nil ||
		!strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("ReadFile of a missing file = %v, want a config: error", err)
	}
}

func TestResolvePaths(t *testing.T) {
	base := filepath.FromSlash("/etc/r")
	rel, abs, empty := "s.yaml", filepath.FromSlash("/opt/x"), ""
	config.ResolvePaths(base, &rel, &abs, &empty)
	if rel != filepath.Join(base, "s.yaml") || abs != filepath.FromSlash("/opt/x") || empty != "" {
		t.Errorf("ResolvePaths: %q %q %q", rel, abs, empty)
	}
}

func TestEnvAndSplitList(t *testing.T) {
	env := config.Env(func(k string) string {
		return map[string]string{"S": "v", "L": " a, ,b ,"}[k]
	})
	s, untouched := "old", "keep"
	var l []string
	env.String("S", &s)
	env.String("UNSET", &untouched)
	env.List("L", &l)
	if s != "v" || untouched != "keep" || !reflect.DeepEqual(l, []string{"a", "b"}) {
		t.Errorf("Env: %q %q %v", s, untouched, l)
	}
	for in, want := range map[string][]string{"": nil, ",": nil, "x": {"x"}, " x , y": {"x", "y"}} {
		if got := config.SplitList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitList(%q) = %v, want %v", in, got, want)
		}
	}
}
