package audit_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/resilience-project/resilience/internal/audit"
)

func openLog(t *testing.T, path string) *audit.Log {
	t.Helper()
	l, err := audit.Open(path, audit.Options{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func verifyFile(t *testing.T, path string) audit.Head {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, ok, err := audit.ReadHead(audit.HeadPath(path))
	if err != nil || !ok {
		t.Fatalf("ReadHead = %v, %v", ok, err)
	}
	got, err := audit.VerifyHead(f, want)
	if err != nil {
		t.Fatalf("VerifyHead(%s) = %v", path, err)
	}
	return got
}

func TestLogConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(audit.Record{Actor: fmt.Sprintf("w%d", w), Action: "silence.create",
					Target: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	head := verifyFile(t, path)
	if head.Seq != writers*each || head != l.Head() {
		t.Fatalf("verified head %+v, log head %+v, want seq %d", head, l.Head(), writers*each)
	}
}

func TestLogReopenContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	first, err := l.Append(audit.Record{Actor: "ana", Role: "admin", Action: "token.create", Target: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.PrevHash != audit.GenesisHash || first.At.Location().String() != "UTC" {
		t.Fatalf("first entry %+v: want seq 1, genesis prev_hash, UTC time", first)
	}
	l.Close()
	if _, err := l.Append(audit.Record{Actor: "ana", Action: "x"}); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	l2 := openLog(t, path)
	second, err := l2.Append(audit.Record{Actor: "ana", Action: "token.revoke", Target: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq != 2 || second.PrevHash != first.Hash {
		t.Fatalf("after reopen: seq %d prev %s, want 2 and %s", second.Seq, second.PrevHash, first.Hash)
	}
	if h := verifyFile(t, path); h.Seq != 2 {
		t.Fatalf("verified seq %d, want 2", h.Seq)
	}
}

func TestLogOpenRefusesBrokenChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	for _, a := range []string{"a", "b", "c"} {
		if _, err := l.Append(audit.Record{Actor: "ana", Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	b, _ := os.ReadFile(path)
	edited := strings.Replace(string(b), `"action":"b"`, `"action":"B"`, 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(path, audit.Options{}); !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("Open of an edited log = %v, want ErrBroken", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != edited {
		t.Fatal("Open changed a broken log")
	}
	// Truncation is caught through the head file.
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(path, []byte(lines[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(path, audit.Options{}); !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("Open of a truncated log = %v, want ErrBroken", err)
	}
}

func TestLogOpenCutsTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	if _, err := l.Append(audit.Record{Actor: "ana", Action: "a"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":2,"at":"20`) // a crash mid-append, never acknowledged
	f.Close()
	l2 := openLog(t, path)
	e, err := l2.Append(audit.Record{Actor: "ana", Action: "b"})
	if err != nil || e.Seq != 2 {
		t.Fatalf("Append after a torn tail = seq %d, %v; want seq 2", e.Seq, err)
	}
	if h := verifyFile(t, path); h.Seq != 2 {
		t.Fatalf("verified seq %d, want 2", h.Seq)
	}
}

func TestLogAppendInvalid(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.jsonl"))
	for _, rec := range []audit.Record{
		{Action: "a"},
		{Actor: "a"},
		{Actor: "a", Action: "b", Detail: map[string]string{"big": strings.Repeat("x", audit.MaxLine)}},
	} {
		if _, err := l.Append(rec); !errors.Is(err, audit.ErrInvalidRecord) {
			t.Errorf("Append(%.40v) = %v, want ErrInvalidRecord", rec, err)
		}
	}
	if l.Head().Seq != 0 {
		t.Fatalf("head seq %d after refused records, want 0", l.Head().Seq)
	}
}

// The caller's detail map is copied: changing it later does not change the
// entry (which would break nothing on disk but would make the returned
// entry lie).
func TestLogAppendCopiesDetail(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.jsonl"))
	d := map[string]string{"note": "a"}
	e, err := l.Append(audit.Record{Actor: "ana", Action: "x", Detail: d})
	if err != nil {
		t.Fatal(err)
	}
	d["note"] = "b"
	if h, _ := audit.HashOf(e); h != e.Hash || e.Detail["note"] != "a" {
		t.Fatalf("entry changed with the caller's map: %+v", e)
	}
}
