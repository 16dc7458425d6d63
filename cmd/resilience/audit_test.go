package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/audit"
)

func TestAuditVerifyCmd(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(logPath, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"a1", "a2", "a3"} {
		if _, err := l.Append(audit.Record{Actor: "ana", Role: "operator", Action: "alert.ack", Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	edited := write("edited.jsonl", strings.Replace(string(orig), `"target":"a2"`, `"target":"a9"`, 1))
	truncated := write("truncated.jsonl", lines[0]+lines[1])
	copyHead, err := os.ReadFile(audit.HeadPath(logPath))
	if err != nil {
		t.Fatal(err)
	}
	write("truncated.jsonl.head", string(copyHead))
	headless := write("headless.jsonl", string(orig))

	tests := []struct {
		name     string
		args     []string
		code     int
		out, err []string
	}{
		{"intact", []string{"verify", logPath}, 0, []string{"ok, 3 entries", head.Hash}, nil},
		{"intact, explicit head", []string{"verify", "--head", audit.HeadPath(logPath), logPath}, 0, []string{"ok, 3 entries"}, nil},
		{"edited entry", []string{"verify", edited}, 1, nil, []string{"line 2 (seq 2)", string(audit.ReasonHash), "entries 1..1 are intact"}},
		{"truncated tail", []string{"verify", truncated}, 1, nil, []string{string(audit.ReasonTruncated)}},
		{"no head file", []string{"verify", headless}, 0, []string{"ok, 3 entries"}, []string{"no head file"}},
		{"explicit head missing", []string{"verify", "--head", filepath.Join(dir, "nope"), logPath}, 1, nil, []string{"not found"}},
		{"missing log", []string{"verify", filepath.Join(dir, "missing.jsonl")}, 1, nil, []string{"missing.jsonl"}},
		{"no subcommand", nil, 2, nil, []string{"usage"}},
		{"no file", []string{"verify"}, 2, nil, []string{"usage"}},
		{"unknown subcommand", []string{"rotate", logPath}, 2, nil, []string{"usage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := auditCmd(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q does not contain %q", out.String(), w)
				}
			}
			for _, w := range tt.err {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q does not contain %q", errb.String(), w)
				}
			}
		})
	}
}
