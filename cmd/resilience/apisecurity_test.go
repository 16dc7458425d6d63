package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

// run --dev: the first start creates one admin token (0600) whose hash is
// in the tokens file, logs the paths and never the token; the next start
// reuses it.
func TestDevTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "api")
	var logged []string
	logf := func(msg string, args ...any) {
		for _, a := range args {
			logged = append(logged, msg, toString(a))
		}
	}
	toks, err := devTokens(dir, logf)
	if err != nil || len(toks) != 1 || toks[0].Role != auth.RoleAdmin {
		t.Fatalf("devTokens = %+v, %v", toks, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if auth.HashToken(tok) != encodeHash(toks[0].Hash) {
		t.Fatal("admin.token does not match the tokens file")
	}
	if fi, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, %v", fi.Mode(), err)
	}
	if strings.Contains(strings.Join(logged, " "), tok) {
		t.Fatal("the token was logged")
	}
	again, err := devTokens(dir, logf)
	if err != nil || len(again) != 1 || again[0].Hash != toks[0].Hash {
		t.Fatalf("second start = %+v, %v: want the same token", again, err)
	}
}

func toString(a any) string {
	if s, ok := a.(string); ok {
		return s
	}
	return ""
}

func encodeHash(h [32]byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 64)
	for i, c := range h {
		out[2*i], out[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return string(out)
}
