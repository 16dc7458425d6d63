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

// check-config names http.tokens_file and the entry's key when the tokens
// file is missing or holds a token instead of its hash.
func TestValidateTokensFile(t *testing.T) {
	clearSecretEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokens.yaml")
	if err := os.WriteFile(bad, []byte("- {name: ana, role: admin, token_hash: rsl_abc, created: 2026-10-14T08:00:00Z}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("- {name: ana, role: admin, token_hash: "+auth.HashToken("x")+", created: 2026-10-14T08:00:00Z}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, want string
	}{{filepath.Join(dir, "missing.yaml"), "http.tokens_file: tokens file"}, {bad, "[0].token_hash"}, {good, ""}} {
		c := valid()
		c.HTTP.TokensFile = tc.file
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "http.tokens_file")):
			t.Errorf("%s: Validate = %v, want an error naming http.tokens_file and %q", tc.file, err, tc.want)
		}
	}
	c := valid()
	c.HTTP.Rate = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http.rate") {
		t.Errorf("negative rate: %v", err)
	}
}
