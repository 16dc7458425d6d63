package nflog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/nflog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*reader).run"))
}

var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

// backend opens a log and reopens it as a restarted process would.
type backend struct {
	name   string
	open   func(t *testing.T) nflog.Log
	reopen func(t *testing.T) nflog.Log
}

func backends(t *testing.T) []backend {
	dir := t.TempDir()
	path := filepath.Join(dir, "nflog.jsonl")
	fileOpen := func(t *testing.T) nflog.Log {
		l, err := nflog.OpenFile(path, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	c := newCluster(t)
	kOpen := func(t *testing.T) nflog.Log { return openKafka(t, c.ListenAddrs()) }
	return []backend{{"file", fileOpen, fileOpen}, {"kafka", kOpen, kOpen}}
}

func newCluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func openKafka(t *testing.T, brokers []string) *nflog.Kafka {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := nflog.OpenKafka(ctx, nflog.KafkaOptions{Brokers: brokers, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func entry(id string, members ...string) nflog.Entry {
	return nflog.Entry{ID: id, Target: "duty/webhook[0]", Members: members, At: t0, Payload: []byte(`{"id":"` + id + `"}`)}
}

func TestCrashBetweenIntentAndSent(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := b.open(t)
			m1, m2 := nflog.Member("A", "A:fired:2:1"), nflog.Member("B", "B:fired:1:1")
			if err := l.Intend(ctx, entry("n1", m1)); err != nil {
				t.Fatal(err)
			}
			if err := l.Intend(ctx, entry("n2", m2)); err != nil {
				t.Fatal(err)
			}
			if err := l.MarkSent(ctx, "n2", t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			l.Close() // the crash: n1 was intended, maybe sent, never marked

			l = b.reopen(t)
			defer l.Close()
			p := l.Pending()
			if len(p) != 1 || p[0].ID != "n1" || string(p[0].Payload) != `{"id":"n1"}` {
				t.Fatalf("Pending after restart = %+v, want n1 with its payload", p)
			}
			if !l.Has("duty/webhook[0]", m1) || !l.Has("duty/webhook[0]", m2) || l.Has("other/email[0]", m1) {
				t.Error("Has does not reflect the decisions taken before the crash")
			}
			if e, ok := l.Get("n2"); !ok || e.State != nflog.Sent || e.Payload != nil {
				t.Errorf("n2 = %+v, %v; want sent without payload", e, ok)
			}
			if err := l.Intend(ctx, entry("n2", m2)); !errors.Is(err, nflog.ErrFinal) {
				t.Errorf("Intend(sent) = %v, want ErrFinal", err)
			}
			if err := l.Intend(ctx, entry("n1", m1)); err != nil {
				t.Errorf("Intend(pending again) = %v, want nil (a resend of the same intent)", err)
			}
			if err := l.MarkSent(ctx, "nope", t0); !errors.Is(err, nflog.ErrUnknown) {
				t.Errorf("MarkSent(unknown) = %v, want ErrUnknown", err)
			}
			if err := l.Abandon(ctx, "n1", t0.Add(2*time.Second), "receiver gone"); err != nil {
				t.Fatal(err)
			}
			if len(l.Pending()) != 0 {
				t.Errorf("Pending after Abandon = %v", l.Pending())
			}
			big := entry("n3", "x")
			big.Payload = make([]byte, nflog.MaxPayload+1)
			if err := l.Intend(ctx, big); !errors.Is(err, nflog.ErrTooLarge) {
				t.Errorf("Intend(big) = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestCompactDropsOldFinalEntries(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			l := b.open(t)
			for i, id := range []string{"old", "new", "pend"} {
				e := entry(id, id)
				e.At = t0.Add(time.Duration(i) * time.Hour)
				if err := l.Intend(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			for id, at := range map[string]time.Time{"old": t0, "new": t0.Add(2 * time.Hour)} {
				if err := l.MarkSent(ctx, id, at); err != nil {
					t.Fatal(err)
				}
			}
			n, err := l.Compact(ctx, t0.Add(90*time.Minute)) // retention 1h: "old" (sent at t0) goes
			if err != nil || n != 1 {
				t.Fatalf("Compact = %d, %v; want 1", n, err)
			}
			l.Close()
			l = b.reopen(t)
			defer l.Close()
			if _, ok := l.Get("old"); ok {
				t.Error("compacted entry came back after reopen")
			}
			if e, ok := l.Get("new"); !ok || e.State != nflog.Sent {
				t.Errorf("new = %+v, %v", e, ok)
			}
			if p := l.Pending(); len(p) != 1 || p[0].ID != "pend" {
				t.Errorf("pending entries must survive compaction: %+v", p)
			}
		})
	}
}

func TestFileTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nflog.jsonl")
	l, err := nflog.OpenFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Intend(context.Background(), entry("n1", "m")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"e":{"v":1,"id":"n2","tar`)
	f.Close()
	l, err = nflog.OpenFile(path, 0)
	if err != nil {
		t.Fatalf("reopen after torn write: %v", err)
	}
	if err := l.Intend(context.Background(), entry("n3", "m3")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = nflog.OpenFile(path, 0)
	if err != nil {
		t.Fatalf("reopen after append past a torn line: %v", err)
	}
	defer l.Close()
	var ids []string
	for _, e := range l.Pending() {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"n1", "n3"}) {
		t.Errorf("pending = %v, want [n1 n3]", ids)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"e\":{\"v\":2,\"id\":\"x\",\"state\":\"pending\"}}\n"), 0o600)
	if _, err := nflog.OpenFile(bad, 0); !errors.Is(err, nflog.ErrCorrupt) {
		t.Errorf("OpenFile(bad version) = %v, want ErrCorrupt", err)
	}
}

func TestKafkaReplicasShareTheLog(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	a := openKafka(t, c.ListenAddrs())
	defer a.Close()
	b := openKafka(t, c.ListenAddrs())
	defer b.Close()
	if err := a.Intend(ctx, entry("n1", "m1")); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkSent(ctx, "n1", t0); err != nil {
		t.Fatal(err)
	}
	if b.Has("duty/webhook[0]", "m1") {
		t.Fatal("b saw a's record before Refresh")
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if e, ok := b.Get("n1"); !ok || e.State != nflog.Sent || !b.Has("duty/webhook[0]", "m1") {
		t.Errorf("after Refresh b has %+v, %v", e, ok)
	}
	if err := b.Intend(ctx, entry("n1", "m1")); !errors.Is(err, nflog.ErrFinal) {
		t.Errorf("b.Intend(n1) = %v, want ErrFinal", err)
	}
}

func TestKey(t *testing.T) {
	k := nflog.Key("duty/webhook[0]", 0, 0, []string{"a", "b"})
	cases := []struct {
		name string
		got  string
		same bool
	}{
		{"order of members", nflog.Key("duty/webhook[0]", 0, 0, []string{"b", "a"}), true},
		{"target", nflog.Key("duty/email[0]", 0, 0, []string{"a", "b"}), false},
		{"tier", nflog.Key("duty/webhook[0]", 1, 0, []string{"a", "b"}), false},
		{"repeat", nflog.Key("duty/webhook[0]", 0, 1, []string{"a", "b"}), false},
		{"members", nflog.Key("duty/webhook[0]", 0, 0, []string{"a"}), false},
	}
	for _, c := range cases {
		if (c.got == k) != c.same {
			t.Errorf("%s: Key %s vs %s, same=%v", c.name, c.got, k, c.same)
		}
	}
	if len(k) != 32 {
		t.Errorf("Key length %d", len(k))
	}
}
