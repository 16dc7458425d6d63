package publish_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/alerts/publish"
	"github.com/resilience-project/resilience/schemas"
)

// replica is one alerts replica's publisher on the shared topic.
type replica struct {
	p    *publish.Publisher
	log  *publish.KafkaLog
	stop func()
}

func startReplica(t *testing.T, brokers []string) *replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := publish.OpenKafka(ctx, publish.KafkaOptions{Brokers: brokers, Topic: "test.cap.log", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cap.NewBuilder(cap.Config{Sender: "pctt.danang.gov.vn", IdentifierPrefix: "vn.danang.pctt."})
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.New(ctx, publish.Config{}, publish.Options{Builder: b, Log: l, Stations: registry(t), Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	r := &replica{p: p, log: l}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			rcancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			l.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// approve retries while the replica's Run has not started following yet.
func (r *replica) approve(t *testing.T, by string) (publish.Record, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rec, err := r.p.Approve(ctx, alertID, by, cap.Texts{})
		cancel()
		if !errors.Is(err, publish.ErrNotFollowing) || time.Now().After(deadline) {
			return rec, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventually waits for cond with a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two replicas on one topic: both see every event; what one issues or
// discards the other folds; two approvals of the same draft at once issue
// one document, the same on both; a restarted replica has everything.
func TestKafkaLogTwoReplicas(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	a, b := startReplica(t, brokers), startReplica(t, brokers)
	observe := func(e schemas.AlertEvent) { a.p.Observe(e); b.p.Observe(e) }

	// 1. Issued on A: B serves the same bytes and has no draft left.
	observe(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0))
	first, err := a.approve(t, "publisher-a")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "B folds A's document", func() bool { _, ok := b.p.Document(first.Identifier); return ok })
	if got, _ := b.p.Document(first.Identifier); string(got.Doc) != string(first.Doc) {
		t.Fatal("B serves other bytes than A issued")
	}
	if ds := b.p.Drafts(); len(ds) != 0 {
		t.Fatalf("B drafts after A issued: %+v", ds)
	}

	// 2. Both approve the escalation at once: one document.
	observe(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10))
	var wg sync.WaitGroup
	recs, errs := make([]publish.Record, 2), make([]error, 2)
	for i, r := range []*replica{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); recs[i], errs[i] = r.approve(t, "publisher") }()
	}
	wg.Wait()
	wins := 0
	var winner publish.Record
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = recs[i]
		case errors.Is(err, publish.ErrAlreadyIssued), errors.Is(err, publish.ErrNoDraft):
			// lost the race in the log, or folded the winner before preparing
		default:
			t.Fatalf("approve %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d approvals won (errors %v), want exactly 1", wins, errs)
	}
	for name, r := range map[string]*replica{"A": a, "B": b} {
		eventually(t, name+" folds the update", func() bool { _, ok := r.p.Document(winner.Identifier); return ok })
		if got, _ := r.p.Document(winner.Identifier); string(got.Doc) != string(winner.Doc) {
			t.Fatalf("%s serves other bytes for %s than the winner issued", name, winner.Identifier)
		}
		if n := len(r.p.Issued(0)); n != 2 {
			t.Fatalf("%s has %d documents, want 2", name, n)
		}
	}

	// 3. The all-clear discarded on B: A drops it too.
	observe(ev(schemas.AlertResolved, 3, schemas.SeverityExtreme, 30))
	var derr error
	eventually(t, "B discards", func() bool {
		derr = b.p.Discard(context.Background(), alertID, "publisher-b", "river still high downstream")
		return !errors.Is(derr, publish.ErrNotFollowing)
	})
	if derr != nil {
		t.Fatal(derr)
	}
	eventually(t, "A drops the discarded draft", func() bool { return len(a.p.Drafts()) == 0 })

	// 4. A restarted replica replays everything: documents and the discard.
	a.stop()
	a2 := startReplica(t, brokers)
	if n := len(a2.p.Issued(0)); n != 2 {
		t.Fatalf("restarted replica has %d documents, want 2", n)
	}
	a2.p.Observe(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0))
	a2.p.Observe(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10))
	a2.p.Observe(ev(schemas.AlertResolved, 3, schemas.SeverityExtreme, 30))
	if ds := a2.p.Drafts(); len(ds) != 0 {
		t.Fatalf("restarted replica re-drafted %+v", ds)
	}
}

// Of two records with one identifier the first in the log is the issued
// one: its writer's Append succeeds, the other's returns ErrAlreadyIssued,
// and both logs keep only the first as the winner.
func TestKafkaLogFirstRecordWins(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *publish.KafkaLog {
		l, err := publish.OpenKafka(ctx, publish.KafkaOptions{Brokers: c.ListenAddrs(), Topic: "test.cap.log"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l1, l2 := open(), open()
	rec := publish.Record{Identifier: "x.1", AlertID: "x", Seq: 1, MsgType: cap.MsgAlert, Doc: []byte("<a/>")}
	if err := l1.Append(ctx, rec); !errors.Is(err, publish.ErrNotFollowing) {
		t.Fatalf("Append without Follow = %v, want ErrNotFollowing", err)
	}
	fctx, fcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	seen := make([][]string, 2)
	var mu sync.Mutex
	for i, l := range []*publish.KafkaLog{l1, l2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Follow(fctx, func(r publish.Record) { mu.Lock(); seen[i] = append(seen[i], r.Proposal); mu.Unlock() })
		}()
	}
	r1, r2 := rec, rec
	r1.Proposal, r2.Proposal = "first", "second"
	r2.Doc = []byte("<b/>")
	var aerr error
	eventually(t, "l1 follows", func() bool { aerr = l1.Append(ctx, r1); return !errors.Is(aerr, publish.ErrNotFollowing) })
	if aerr != nil {
		t.Fatal(aerr)
	}
	eventually(t, "l2 follows", func() bool { aerr = l2.Append(ctx, r2); return !errors.Is(aerr, publish.ErrNotFollowing) })
	if !errors.Is(aerr, publish.ErrAlreadyIssued) {
		t.Fatalf("second Append of x.1 = %v, want ErrAlreadyIssued", aerr)
	}
	eventually(t, "both logs fold both records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen[0]) == 2 && len(seen[1]) == 2
	})
	fcancel()
	wg.Wait()
	for i, s := range seen {
		if s[0] != "first" || s[1] != "second" {
			t.Errorf("log %d folded %v, want [first second] (one order everywhere)", i+1, s)
		}
	}
	l1.Close()
	l2.Close()
}
