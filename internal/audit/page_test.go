package audit_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/audit"
)

func TestLogPage(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.jsonl"))
	for i := range 7 {
		if _, err := l.Append(audit.Record{Actor: "ana", Role: "operator", Action: "alert.ack", Target: fmt.Sprint(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(es []audit.Entry) []uint64 {
		out := []uint64{}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	tests := []struct {
		before uint64
		limit  int
		want   []uint64
	}{
		{0, 3, []uint64{7, 6, 5}},
		{5, 3, []uint64{4, 3, 2}},
		{2, 3, []uint64{1}},
		{1, 3, []uint64{}},
		{0, 100, []uint64{7, 6, 5, 4, 3, 2, 1}},
		{100, 2, []uint64{7, 6}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("before %d limit %d", tt.before, tt.limit), func(t *testing.T) {
			es, err := l.Page(tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(es); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Page = %v, want %v", got, tt.want)
			}
			for _, e := range es {
				if e.Target != fmt.Sprint(e.Seq) || e.Hash == "" {
					t.Fatalf("entry %+v: not the one appended", e)
				}
			}
		})
	}
	if _, err := l.Page(0, 0); !errors.Is(err, audit.ErrBadPage) {
		t.Fatalf("Page(0, 0) = %v, want ErrBadPage", err)
	}
	l.Close()
	if _, err := l.Page(0, 1); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Page after Close = %v, want ErrClosed", err)
	}
}

// An entry edited in the file after Open (its hash left as it was) makes
// Page fail with ErrBroken naming the line, instead of serving the edit.
func TestLogPageDetectsEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	for i := range 3 {
		if _, err := l.Append(audit.Record{Actor: "ana", Role: "operator", Action: "alert.ack", Target: fmt.Sprint(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"actor":"ana","role":"operator","action":"alert.ack","target":"2"`,
		`"actor":"eve","role":"operator","action":"alert.ack","target":"2"`, 1)
	if edited == string(b) {
		t.Fatal("the edit did not apply")
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = l.Page(0, 10)
	var be *audit.BrokenError
	if !errors.As(err, &be) || be.Line != 2 || be.Reason != audit.ReasonHash {
		t.Fatalf("Page after an edit = %v, want ErrBroken at line 2 (%s)", err, audit.ReasonHash)
	}
}
