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
// flood's excess waits behind it as rate_limited dead letters), the flood's
// admitted records keep their order, its excess is dead-lettered (counted),
// and every message is acknowledged. Before the fix one FIFO queue put the
// quiet message behind all N, in write N/BatchSize+2.
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
	if floodRecords != 200 {
		t.Errorf("flood records %d, want the burst of 200", floodRecords)
	}
	h.stop(t)
	if v := toFloat64(t, h.c.m.rejected.WithLabelValues(string(schemas.ReasonRateLimited))); v != N-200 {
		t.Errorf("rejected_total{rate_limited} = %v, want %d", v, N-200)
	}
	var dls int
	for _, km := range w.written() {
		var dl schemas.DeadLetter
		if km.Topic == schemas.KafkaDLQ && json.Unmarshal(km.Value, &dl) == nil && dl.Reason == schemas.ReasonRateLimited && string(km.Key) == stA && dl.PayloadSize > 0 {
			dls++
		}
	}
	if dls != N-200 {
		t.Errorf("%d rate_limited dead letters of %s, want %d", dls, stA, N-200)
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
		if _, ok, _, _ := l.admit(s.station); ok != s.want {
			t.Errorf("step %d (%s +%v): admitted %v, want %v", i, s.station, s.advance, ok, s.want)
		}
	}
	if n := len(l.shares); n != reg.Len() {
		t.Errorf("limiter holds %d station shares, want the registry's %d", n, reg.Len())
	}
}
