package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/audit"
)

// fixedClock returns a clock that advances one second per call.
func fixedClock() func() time.Time {
	t := time.Date(2026, 10, 14, 3, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// sampleLog appends n entries to a new log and returns its lines (with
// newlines) and the final head.
func sampleLog(t testing.TB, n int) ([]string, audit.Head) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, audit.Options{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := l.Append(audit.Record{Actor: fmt.Sprintf("op%d", i), Role: "operator", Action: "alert.ack",
			Target: fmt.Sprintf("alert-%d", i), Detail: map[string]string{"note": "on site", "b": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	head := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	return lines[:len(lines)-1], head
}

// resealed returns line with the entry changed by edit and its hash
// recomputed (what a careful forger does).
func resealed(t *testing.T, line string, prev string, edit func(*audit.Entry)) (string, string) {
	t.Helper()
	var e audit.Entry
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	edit(&e)
	if prev != "" {
		e.PrevHash = prev
	}
	h, err := audit.HashOf(e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n", h
}

func TestVerifyDetectsTampering(t *testing.T) {
	orig, head := sampleLog(t, 5)
	tests := []struct {
		name       string
		tamper     func(lines []string) []string
		wantSeq    uint64 // 0: intact
		wantReason audit.Reason
	}{
		{"intact", func(l []string) []string { return l }, 0, ""},
		{"edited entry", func(l []string) []string {
			l[2] = strings.Replace(l[2], `"actor":"op3"`, `"actor":"op9"`, 1)
			return l
		}, 3, audit.ReasonHash},
		{"edited detail", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"on site"`, `"off site"`, 1)
			return l
		}, 2, audit.ReasonHash},
		{"edited entry with recomputed hash", func(l []string) []string {
			l[2], _ = resealed(t, l[2], "", func(e *audit.Entry) { e.Actor = "mallory" })
			return l
		}, 4, audit.ReasonPrevHash},
		{"deleted entry", func(l []string) []string { return append(l[:2:2], l[3:]...) }, 3, audit.ReasonSeq},
		{"deleted first entry", func(l []string) []string { return l[1:] }, 1, audit.ReasonSeq},
		{"reordered entries", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }, 2, audit.ReasonSeq},
		{"duplicated entry", func(l []string) []string {
			return append(append(l[:2:2], l[1]), l[2:]...)
		}, 3, audit.ReasonSeq},
		{"deleted entry, seqs renumbered", func(l []string) []string {
			l2 := append(l[:2:2], l[3:]...)
			for i := 2; i < len(l2); i++ {
				l2[i], _ = resealed(t, l2[i], "", func(e *audit.Entry) { e.Seq = uint64(i + 1) })
			}
			return l2
		}, 3, audit.ReasonPrevHash},
		{"whitespace added", func(l []string) []string {
			l[1] = strings.Replace(l[1], `,"actor"`, `, "actor"`, 1)
			return l
		}, 2, audit.ReasonNotCanonical},
		{"key in other case", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"actor":`, `"Actor":`, 1)
			return l
		}, 2, audit.ReasonNotCanonical},
		{"duplicate key, last wins", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"actor":"op2"`, `"actor":"op2","actor":"op2"`, 1)
			return l
		}, 2, audit.ReasonNotCanonical},
		{"unknown field", func(l []string) []string {
			l[1] = strings.Replace(l[1], `{"seq"`, `{"x":1,"seq"`, 1)
			return l
		}, 2, audit.ReasonMalformed},
		{"garbage line", func(l []string) []string { l[3] = "hello\n"; return l }, 4, audit.ReasonMalformed},
		{"empty line", func(l []string) []string { l[3] = "\n"; return l }, 4, audit.ReasonMalformed},
		{"torn last line", func(l []string) []string { l[4] = l[4][:40]; return l }, 5, audit.ReasonTorn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.tamper(append([]string(nil), orig...))
			got, err := audit.Verify(strings.NewReader(strings.Join(lines, "")))
			if tt.wantSeq == 0 {
				if err != nil || got != head {
					t.Fatalf("Verify = %+v, %v; want %+v, nil", got, err, head)
				}
				return
			}
			var b *audit.BrokenError
			if !errors.As(err, &b) || !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("Verify err = %v, want a *BrokenError matching ErrBroken", err)
			}
			if b.Seq != tt.wantSeq || b.Reason != tt.wantReason {
				t.Fatalf("Verify = seq %d %q, want seq %d %q (%v)", b.Seq, b.Reason, tt.wantSeq, tt.wantReason, err)
			}
			if got.Seq != tt.wantSeq-1 {
				t.Errorf("head of the intact prefix = seq %d, want %d", got.Seq, tt.wantSeq-1)
			}
		})
	}
}

// A truncated tail and a consistently rewritten chain verify on their own
// (documented limits) and are caught only against the head kept aside.
func TestVerifyHead(t *testing.T) {
	orig, head := sampleLog(t, 5)
	rewritten := func() []string {
		l := append([]string(nil), orig...)
		prev := ""
		l[2], prev = resealed(t, l[2], "", func(e *audit.Entry) { e.Actor = "mallory" })
		for i := 3; i < len(l); i++ {
			l[i], prev = resealed(t, l[i], prev, func(*audit.Entry) {})
		}
		return l
	}
	tests := []struct {
		name       string
		lines      []string
		head       audit.Head
		wantReason audit.Reason // "": accepted
	}{
		{"intact", orig, head, ""},
		{"empty log, empty head", nil, audit.Head{Hash: audit.GenesisHash}, ""},
		{"head one behind (crash before the head was replaced)", orig, headAt(t, orig, 4), ""},
		{"truncated tail", orig[:3], head, audit.ReasonTruncated},
		{"all entries removed", nil, head, audit.ReasonTruncated},
		{"rewritten chain", rewritten(), head, audit.ReasonHeadMismatch},
		{"head two behind", orig, headAt(t, orig, 3), audit.ReasonHeadLag},
		{"head one behind, wrong hash", orig, audit.Head{Seq: 4, Hash: head.Hash}, audit.ReasonHeadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Join(tt.lines, "")
			if _, err := audit.Verify(strings.NewReader(body)); err != nil {
				t.Fatalf("Verify alone = %v, want nil (the chain itself is consistent)", err)
			}
			_, err := audit.VerifyHead(strings.NewReader(body), tt.head)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("VerifyHead = %v, want nil", err)
				}
				return
			}
			var b *audit.BrokenError
			if !errors.As(err, &b) || b.Reason != tt.wantReason {
				t.Fatalf("VerifyHead = %v, want reason %q", err, tt.wantReason)
			}
		})
	}
}

func headAt(t *testing.T, lines []string, seq int) audit.Head {
	t.Helper()
	var e audit.Entry
	if err := json.Unmarshal([]byte(lines[seq-1]), &e); err != nil {
		t.Fatal(err)
	}
	return audit.Head{Seq: e.Seq, Hash: e.Hash}
}

func TestVerifyLongLine(t *testing.T) {
	body := strings.Repeat("x", audit.MaxLine+10) + "\n"
	_, err := audit.Verify(strings.NewReader(body))
	var b *audit.BrokenError
	if !errors.As(err, &b) || b.Reason != audit.ReasonMalformed || b.Line != 1 {
		t.Fatalf("Verify = %v, want line 1 malformed", err)
	}
}

// FuzzVerify: Verify never panics, and what it accepts is a chain: as many
// newline-terminated lines as the head's seq, each re-encoding to itself.
func FuzzVerify(f *testing.F) {
	valid, _ := sampleLog(f, 3)
	f.Add([]byte(strings.Join(valid, "")))
	f.Add([]byte(strings.Join(valid[:2], "") + valid[2][:30]))
	f.Add([]byte(""))
	f.Add([]byte("\n"))
	f.Add([]byte(`{"seq":1}` + "\n"))
	f.Add([]byte(`{"seq":1,"at":"2026-10-14T03:00:01Z","actor":"a","role":"","action":"x","target":"","prev_hash":"` +
		audit.GenesisHash + `","hash":"00"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		head, err := audit.Verify(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("Verify on a bytes.Reader = %v, want only ErrBroken errors", err)
			}
			return
		}
		if n := uint64(bytes.Count(data, []byte("\n"))); n != head.Seq {
			t.Fatalf("accepted %d lines as head seq %d", n, head.Seq)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatal("accepted a torn last line")
		}
		if head.Seq == 0 && head.Hash != audit.GenesisHash {
			t.Fatalf("empty log head hash %q", head.Hash)
		}
	})
}
