package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// replyAll answers every scripted write with nil until stop is closed.
func replyAll(w *fakeWriter, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case c := <-w.calls:
				c.reply <- nil
			case <-stop:
				return
			}
		}
	}()
	return done
}

func recordOf(km kafka.Message) (schemas.Record, bool) {
	var r schemas.Record
	ok := km.Topic == schemas.KafkaReadings && json.Unmarshal(km.Value, &r) == nil
	return r, ok
}

// One station floods N messages while another sends one: the quiet
// station's record is in the first write after the flood arrived (the
// flood's excess waits behind it), the flood's records keep their order,
// what it sent beyond its rate is written after the quiet station's (up to
// station_max_undelivered held at once), what it sent beyond that is
// dead-lettered as rate_limited (counted), and every message is
// acknowledged. Before the fix one FIFO queue put the quiet message behind
// all N, in write N/BatchSize+2.
func TestFloodingStationDoesNotDelayOthers(t *testing.T) {
	const N = 3000
	cfg := testConfig()
	cfg.MaxUndelivered = 8000 // every message fits: the handler never blocks here
	cfg.BatchSize = 500
	cfg.BatchWait = 0
	cfg.StationRate, cfg.StationBurst = 20, 200 // the clock is frozen: exactly 200 tokens
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)

	flood := make([]*fakeMsg, N)
	for i := range flood {
		flood[i] = newMsg(readingTopic(stA), payload(stA, uint64(i+1), ts, 1, "m"))
	}
	quiet := newMsg(readingTopic(stB), payload(stB, 77, ts, 1, "m"))
	h.client.deliver(flood[0])
	first := <-w.calls // held while the rest arrives
	for _, m := range flood[1:] {
		h.client.deliver(m)
	}
	h.client.deliver(quiet)
	first.reply <- nil

	var writes [][]kafka.Message
	quietWrite := 0
	for quietWrite == 0 {
		select {
		case c := <-w.calls:
			writes = append(writes, c.msgs)
			for _, km := range c.msgs {
				if r, ok := recordOf(km); ok && r.Station == stB && r.Seq == 77 {
					quietWrite = len(writes) + 1 // +1: the first write
				}
			}
			c.reply <- nil
		case <-time.After(failDeadline):
			t.Fatalf("quiet station's record not written after %d writes", len(writes)+1)
		}
	}
	if quietWrite > 2 {
		t.Fatalf("quiet station's record in write %d, want the first write after the flood arrived (2)", quietWrite)
	}
	stop := make(chan struct{})
	done := replyAll(w, stop)
	defer func() { close(stop); <-done }()
	waitAcked(t, append(flood, quiet)...)

	var lastSeq uint64
	var floodRecords int
	for _, km := range w.written() {
		if r, ok := recordOf(km); ok && r.Station == stA {
			floodRecords++
			if r.Seq <= lastSeq {
				t.Fatalf("flood records out of order: seq %d after %d", r.Seq, lastSeq)
			}
			lastSeq = r.Seq
		}
	}
	held := cfg.stationMaxUndelivered() // the burst, then the deferred rest of its share
	if floodRecords != held {
		t.Errorf("flood records %d, want its share of %d", floodRecords, held)
	}
	h.stop(t)
	if v := toFloat64(t, h.c.m.rejected.WithLabelValues(string(schemas.ReasonRateLimited))); v != float64(N-held) {
		t.Errorf("rejected_total{rate_limited} = %v, want %d", v, N-held)
	}
	var dls int
	for _, km := range w.written() {
		var dl schemas.DeadLetter
		if km.Topic == schemas.KafkaDLQ && json.Unmarshal(km.Value, &dl) == nil && dl.Reason == schemas.ReasonRateLimited && string(km.Key) == stA && dl.PayloadSize > 0 {
			dls++
		}
	}
	if dls != N-held {
		t.Errorf("%d rate_limited dead letters of %s, want %d", dls, stA, N-held)
	}
}

// Without a rate limit, one station still cannot hold more than
// station_max_undelivered of the MaxUndelivered slots: while Kafka is
// stuck its next messages are dead-lettered as rate_limited, and another
// station's message is still taken in.
func TestStationCannotTakeEverySlot(t *testing.T) {
	cfg := testConfig()
	cfg.MaxUndelivered = 8
	cfg.StationMaxUndelivered = 2
	cfg.StationRate = 0
	cfg.BatchSize = 8
	cfg.BatchWait = time.Second
	w := newFakeWriter()
	w.scripted = true
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Minute)
	var msgs []*fakeMsg
	for i := range 5 {
		msgs = append(msgs, newMsg(readingTopic(stA), payload(stA, uint64(i+1), ts, 1, "m")))
	}
	msgs = append(msgs, newMsg(readingTopic(stB), payload(stB, 1, ts, 1, "m")))
	returned := make(chan struct{})
	go func() {
		for _, m := range msgs {
			h.client.deliver(m)
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(failDeadline):
		t.Fatal("handler blocked: one station took every slot")
	}
	stop := make(chan struct{})
	done := replyAll(w, stop)
	defer func() { close(stop); <-done }()
	waitAcked(t, msgs...)
	var stationA, stationB, limited int
	for _, km := range w.written() {
		if r, ok := recordOf(km); ok {
			if r.Station == stA {
				stationA++
			} else {
				stationB++
			}
		}
		var dl schemas.DeadLetter
		if km.Topic == schemas.KafkaDLQ && json.Unmarshal(km.Value, &dl) == nil && dl.Reason == schemas.ReasonRateLimited {
			limited++
		}
	}
	if stationB != 1 || stationA+limited != 5 || stationA < 2 || limited < 1 {
		t.Errorf("records A %d B %d, rate_limited %d: want B 1, A at least 2 and the rest of A's 5 rate_limited", stationA, stationB, limited)
	}
}

func TestLimiterTokenBucket(t *testing.T) {
	now := testNow
	reg := testRegistry(t)
	cfg := testConfig()
	cfg.StationRate, cfg.StationBurst, cfg.StationMaxUndelivered = 2, 3, 16
	l := newLimiter(cfg, reg, func() time.Time { return now })
	steps := []struct {
		station string
		advance time.Duration
		want    bool
	}{
		{stA, 0, true}, {stA, 0, true}, {stA, 0, true}, {stA, 0, false}, // burst of 3
		{stB, 0, true},                                                                 // another station has its own bucket
		{stA, 499 * time.Millisecond, false},                                           // 0.998 tokens
		{stA, time.Millisecond, true},                                                  // 1 token at 2/s
		{stA, 10 * time.Second, true}, {stA, 0, true}, {stA, 0, true}, {stA, 0, false}, // refilled to the burst, not beyond
		{"XX-UNKNOWN", 0, true}, {"YY-UNKNOWN", 0, true}, {"", 0, true}, {"ZZ", 0, false}, // unregistered stations share one bucket
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		sh, v, _, _ := l.admit(s.station)
		if (v == within) != s.want {
			t.Errorf("step %d (%s +%v): within its rate %v, want %v", i, s.station, s.advance, v == within, s.want)
		}
		if v == deferred {
			l.release(sh, true) // written: the station is no longer behind it
		}
	}
	// While a deferred message waits, the station's next ones are deferred
	// too, even with tokens: its readings keep their order into Kafka.
	now = now.Add(time.Hour)
	l.admit(stB)
	l.admit(stB)
	l.admit(stB)
	sh, v, _, _ := l.admit(stB) // over the burst of 3: deferred
	if v != deferred {
		t.Fatalf("4th message of a burst of 3: %v, want deferred", v)
	}
	now = now.Add(time.Hour) // tokens again
	if _, v2, _, _ := l.admit(stB); v2 != deferred {
		t.Errorf("a message after a waiting deferred one: %v, want deferred (order)", v2)
	}
	l.release(sh, true)
	l.release(sh, true)
	if _, v3, _, _ := l.admit(stB); v3 != within {
		t.Errorf("once the deferred ones are written: %v, want within", v3)
	}
	if n := len(l.shares); n != reg.Len() {
		t.Errorf("limiter holds %d station shares, want the registry's %d", n, reg.Len())
	}
}

// A backlog the broker delivers all at once (after a Kafka outage of ours,
// chaos F6: a 5-minute outage made each station's backlog arrive faster
// than its rate) is more than the burst but within the station's share:
// every reading is written, in order, none dead-lettered. Before the fix
// everything beyond the burst was dead-lettered as rate_limited: readings
// lost from InfluxDB.
func TestBacklogBeyondTheBurstIsDeferredNotDropped(t *testing.T) {
	const N = 1000
	cfg := testConfig()
	cfg.MaxUndelivered = 8000 // a share of 2000
	cfg.BatchSize = 500
	cfg.BatchWait = 0
	cfg.StationRate, cfg.StationBurst = 20, 200 // the clock is frozen: exactly 200 tokens
	w := newFakeWriter()
	h := start(t, cfg, w)
	ts := testNow.Add(-time.Hour)
	backlog := make([]*fakeMsg, N)
	for i := range backlog {
		backlog[i] = newMsg(readingTopic(stA), payload(stA, uint64(i+1), ts.Add(time.Duration(i)*time.Second), 1, "m"))
		h.client.deliver(backlog[i])
	}
	waitAcked(t, backlog...)
	var lastSeq uint64
	var records int
	for _, km := range w.written() {
		if r, ok := recordOf(km); ok && r.Station == stA {
			records++
			if r.Seq <= lastSeq {
				t.Fatalf("records out of order: seq %d after %d", r.Seq, lastSeq)
			}
			lastSeq = r.Seq
		}
	}
	h.stop(t)
	if records != N {
		t.Errorf("%d of the backlog's %d readings written as records", records, N)
	}
	if v := toFloat64(t, h.c.m.rejected.WithLabelValues(string(schemas.ReasonRateLimited))); v != 0 {
		t.Errorf("rejected_total{rate_limited} = %v, want 0", v)
	}
}
