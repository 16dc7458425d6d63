package audit_test

import (
	"errors"
	"fmt"
	"path/filepath"
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
