package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// apiSecurity sets the API's authenticator and audit log: the tokens of
// http.tokens_file, or under --dev without one the admin token of
// data_dir/api (created at first start; the log names the file, never the
// token); the audit log at http.audit_file or data_dir/audit/audit.jsonl.
func (w *wiring) apiSecurity(ho *httpapi.Options) error {
	var toks []auth.Token
	var err error
	switch {
	case w.cfg.HTTP.TokensFile != "":
		toks, err = auth.Load(w.cfg.HTTP.TokensFile)
	case w.cfg.Dev:
		toks, err = devTokens(filepath.Join(w.cfg.DataDir, "api"), w.logger.Info)
	default:
		w.logger.Warn("http.tokens_file is not set: the API accepts no token (only /healthz, /readyz, /metrics from loopback answer)")
	}
	if err != nil {
		return fmt.Errorf("http.tokens_file: %w", err)
	}
	ho.Auth, err = auth.New(toks, auth.Options{Rate: w.cfg.HTTP.Rate, Burst: w.cfg.HTTP.Burst, Registerer: w.reg, Logger: w.logger})
	if err != nil {
		return fmt.Errorf("http.rate: %w", err)
	}
	path := w.cfg.HTTP.AuditFile
	if path == "" {
		path = filepath.Join(w.cfg.DataDir, "audit", "audit.jsonl")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("http.audit_file: %w", err)
	}
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		return fmt.Errorf("http.audit_file: %w", err)
	}
	w.lc.closeAfterParts(func() { l.Close() })
	h := l.Head()
	w.logger.Info("audit log open: copy its head elsewhere to detect a rewrite", "path", path, "seq", h.Seq, "hash", h.Hash)
	ho.Audit = l
	return nil
}

// devTokens is the tokens of dir/tokens.yaml, created at first start with
// one admin token written to dir/admin.token (0600).
func devTokens(dir string, logf func(string, ...any)) ([]auth.Token, error) {
	tokens, secret := filepath.Join(dir, "tokens.yaml"), filepath.Join(dir, "admin.token")
	toks, err := auth.Load(tokens)
	if err == nil {
		logf("dev API tokens", "tokens_file", tokens, "admin_token_file", secret)
		return toks, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tok, hash, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(secret, []byte(tok+"\n"), 0o600); err != nil {
		return nil, err
	}
	line := fmt.Sprintf("- {name: dev-admin, role: admin, token_hash: %s, created: %s}\n", hash, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(tokens, []byte(line), 0o600); err != nil {
		return nil, err
	}
	logf("dev API admin token created: curl -H \"Authorization: Bearer $(cat FILE)\"", "admin_token_file", secret, "tokens_file", tokens)
	return auth.Load(tokens)
}
