package harness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

// Verdict is what a scenario's check found. A clean run has every count
// but Published, Stored, DeadLettered, Refused, EventsExpected and
// Reordered at zero.
type Verdict struct {
	Published    int // messages generated
	Unsent       int // never acknowledged by the broker (the publisher gave up)
	Stored       int // readings expected in InfluxDB
	DeadLettered int // messages expected on the dead-letter topic
	Refused      int // messages the broker was allowed to refuse and did

	Lost       int // expected readings missing from InfluxDB
	Duplicates int // (station, seq) with more than one point
	Unexpected int // points whose seq should not be in InfluxDB
	DLQMissing int // expected dead letters not on the topic
	DLQWrong   int // dead letters with a reason not expected, or of valid readings

	EventsExpected int
	EventsMissing  int
	EventsExtra    int
	// EventsRepeated counts events on the topic more than once (allowed:
	// consumers dedupe on the event id; reported for information).
	EventsRepeated int
	// StoreMismatches counts alerts the alerts service's store has wrong
	// (missing, unexpected, events applied not exactly once, wrong state).
	StoreMismatches int
	// Reordered counts stations whose readings reached Kafka in another
	// order than published (their expected events follow Kafka's order).
	Reordered int

	// Problems are the first findings, for the report.
	Problems []string
}

// OK reports whether nothing was lost, duplicated, unexpected or missing.
func (v *Verdict) OK() bool {
	return v.Unsent == 0 && v.Lost == 0 && v.Duplicates == 0 && v.Unexpected == 0 && v.DLQMissing == 0 &&
		v.DLQWrong == 0 && v.EventsMissing == 0 && v.EventsExtra == 0 && v.StoreMismatches == 0
}

func (v *Verdict) problem(format string, args ...any) {
	if len(v.Problems) < 12 {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
}

// Inputs are the pipeline outputs a Check compares with the ledger.
type Inputs struct {
	Influx   map[string]map[uint64]int // InfluxSeqs
	Readings []kafka.Message           // the readings topic
	DLQ      []kafka.Message           // the dead-letter topic
	Alerts   []kafka.Message           // the alerts topic
}

// Collect reads the scenario's outputs from InfluxDB and Kafka.
func (s *Scenario) Collect(ctx context.Context) (Inputs, error) {
	var in Inputs
	var err error
	if in.Influx, _, err = InfluxSeqs(ctx, s.Servers, s.ID); err != nil {
		return in, err
	}
	for _, t := range []struct {
		topic string
		dst   *[]kafka.Message
	}{{s.Topics.Readings, &in.Readings}, {s.Topics.DLQ, &in.DLQ}, {s.Topics.Alerts, &in.Alerts}} {
		if *t.dst, err = ScanTopic(ctx, s.Servers.KafkaBrokers, t.topic); err != nil {
			return in, err
		}
	}
	return in, nil
}

// Evaluate computes the alert events that one station's records produce
// when applied in order to a fresh state: the rule engine under test (the
// harness serves every layer, so it does not import the processor's
// engine; cmd/chaos passes processor/rules).
type Evaluate func(station string, recs []schemas.Record) ([]schemas.AlertEvent, error)

// Check compares the ledger with what the pipeline produced; eval gives
// the expected alert events.
func (s *Scenario) Check(entries []Entry, in Inputs, eval Evaluate) (*Verdict, map[string]schemas.AlertEvent, error) {
	v := &Verdict{Published: len(entries)}
	mine := map[string]bool{}
	for _, id := range s.Stations {
		mine[id] = true
	}
	// Readings in InfluxDB.
	want := map[string]map[uint64]bool{}
	for _, e := range entries {
		if e.Acked.IsZero() && !e.NoRetry {
			v.Unsent++
			v.problem("%s seq %d (%s) never acknowledged by the broker", e.Station, e.Seq, e.Label)
		}
		switch e.Fate.Kind {
		case Stored:
			v.Stored++
			if want[e.Station] == nil {
				want[e.Station] = map[uint64]bool{}
			}
			want[e.Station][e.Seq] = true
			switch c := in.Influx[e.Station][e.Seq]; {
			case c == 0:
				v.Lost++
				v.problem("lost: %s seq %d %s (published %s)", e.Station, e.Seq, e.Label, e.FirstSent.Format("15:04:05.000"))
			case c > 1:
				v.Duplicates++
				v.problem("duplicate: %s seq %d has %d points", e.Station, e.Seq, c)
			}
		case DeadLettered:
			v.DeadLettered++
		}
	}
	for st, seqs := range in.Influx {
		for seq := range seqs {
			if !want[st][seq] {
				v.Unexpected++
				v.problem("unexpected point: station %q seq %d", st, seq)
			}
		}
	}
	s.checkDLQ(v, entries, in.DLQ)
	expected, err := s.expectedFor(v, entries, in.Readings, eval)
	if err != nil {
		return v, nil, err
	}
	v.EventsExpected = len(expected)
	got := map[string]int{}
	for _, m := range in.Alerts {
		var ev schemas.AlertEvent
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			v.EventsExtra++
			v.problem("alerts offset %d: undecodable event: %v", m.Offset, err)
			continue
		}
		if !mine[ev.Station] {
			continue
		}
		got[ev.EventID]++
		if got[ev.EventID] == 1 {
			if _, ok := expected[ev.EventID]; !ok {
				v.EventsExtra++
				v.problem("extra event %s (%s %s level %d at %s)", ev.EventID, ev.Rule, ev.Kind, ev.Level, ev.At.Format(time.RFC3339Nano))
			}
		} else if got[ev.EventID] == 2 {
			v.EventsRepeated++
		}
	}
	for _, id := range sortedKeys(expected) {
		if got[id] == 0 {
			ev := expected[id]
			v.EventsMissing++
			v.problem("missing event %s (%s %s level %d at %s)", id, ev.Rule, ev.Kind, ev.Level, ev.At.Format(time.RFC3339Nano))
		}
	}
	return v, expected, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkDLQ matches the dead-letter topic against the ledger: by topic,
// then payload.
func (s *Scenario) checkDLQ(v *Verdict, entries []Entry, dlq []kafka.Message) {
	byTopic := map[string][]int{}
	for i, e := range entries {
		byTopic[e.Topic] = append(byTopic[e.Topic], i)
	}
	matched := make([]bool, len(entries))
	for _, m := range dlq {
		var dl schemas.DeadLetter
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			continue // not ours to judge: other users share the broker's topics
		}
		cands, ok := byTopic[dl.Topic]
		if !ok {
			continue // another scenario's or test's message
		}
		idx := -1
		for _, i := range cands {
			if samePayload(entries[i].Payload, &dl) {
				idx = i
				break
			}
		}
		if idx < 0 {
			v.DLQWrong++
			v.problem("dead letter on %q matches no published payload (%d bytes, reason %s)", dl.Topic, len(dl.Payload), dl.Reason)
			continue
		}
		e := entries[idx]
		if matched[idx] {
			continue // a redelivered message dead-lettered again
		}
		matched[idx] = true
		switch {
		case e.Fate.Kind != DeadLettered:
			v.DLQWrong++
			v.problem("%s seq %d (%s, expected %s) dead-lettered: %s %s", e.Station, e.Seq, e.Label, e.Fate.Kind, dl.Reason, dl.Detail)
		case !slices.Contains(e.Fate.Reasons, dl.Reason):
			v.DLQWrong++
			v.problem("%s: reason %s (%s), want one of %v", e.Label, dl.Reason, dl.Detail, e.Fate.Reasons)
		}
	}
	for i, e := range entries {
		if e.Fate.Kind != DeadLettered || matched[i] {
			continue
		}
		if e.Fate.MayBeRefused {
			v.Refused++
			continue
		}
		v.DLQMissing++
		v.problem("%s seq %d (%s): no dead letter (want %v)", e.Station, e.Seq, e.Label, e.Fate.Reasons)
	}
}

// samePayload matches a dead letter with a published payload: by the
// SHA-256 of the whole original when the dead letter carries one (a
// truncated dead letter has only a prefix of the bytes), else by the bytes.
func samePayload(published []byte, dl *schemas.DeadLetter) bool {
	if dl.PayloadSHA256 != "" {
		sum := sha256.Sum256(published)
		return hex.EncodeToString(sum[:]) == dl.PayloadSHA256
	}
	return bytes.Equal(published, dl.Payload)
}

// expectedFor computes the alert events the scenario must produce: the
// project's rule engine applied, per station, to the records that reach
// the processor. Normally that is the ledger in publish order; for a
// station whose readings reached Kafka in another order (a shared
// subscription's collectors, a redelivery), Kafka's order, which is the
// order the processor applies.
func (s *Scenario) expectedFor(v *Verdict, entries []Entry, readings []kafka.Message, eval Evaluate) (map[string]schemas.AlertEvent, error) {
	if eval == nil {
		return nil, errors.New("harness: Check needs an Evaluate (the rule engine under test)")
	}
	dec := &schemas.Decoder{Registry: s.Registry, Opts: schemas.DefaultDecodeOptions()}
	published := map[string][]schemas.Record{}
	for _, e := range entries {
		if e.Fate.Kind != Stored && e.Fate.Kind != Overwritten {
			continue
		}
		recs, err := dec.Decode(e.Topic, e.Payload, e.Created)
		if err != nil {
			return nil, fmt.Errorf("harness: %s seq %d (%s) is expected to be %s but the decoder rejects it: %w", e.Station, e.Seq, e.Label, e.Fate.Kind, err)
		}
		published[e.Station] = append(published[e.Station], recs...)
	}
	inKafka := map[string][]schemas.Record{}
	for _, m := range readings {
		var r schemas.Record
		if json.Unmarshal(m.Value, &r) != nil || published[r.Station] == nil {
			continue
		}
		inKafka[r.Station] = append(inKafka[r.Station], r)
	}
	out := map[string]schemas.AlertEvent{}
	for _, st := range s.Stations {
		recs := published[st]
		if k := inKafka[st]; len(k) > 0 && !sameOrder(recs, k) {
			v.Reordered++
			recs = k
		}
		evs, err := eval(st, recs)
		if err != nil {
			return nil, fmt.Errorf("harness: expected events of %s: %w", st, err)
		}
		for _, ev := range evs {
			out[ev.EventID] = ev
		}
	}
	return out, nil
}

// sameOrder reports whether the first occurrences of seqs in kafka are
// the published sequence (a prefix of it: the rest may be missing, which
// the InfluxDB check reports).
func sameOrder(published, kafka []schemas.Record) bool {
	seen := map[uint64]bool{}
	i := 0
	for _, r := range kafka {
		if seen[r.Seq] {
			continue
		}
		seen[r.Seq] = true
		if i >= len(published) || published[i].Seq != r.Seq {
			return false
		}
		i++
	}
	return true
}

// Latencies returns publish-to-alert times of the expected fired and
// escalated events whose causing reading was first sent within [from, to]
// (zero to: no upper bound), using the watch's first receive times.
func Latencies(entries []Entry, expected map[string]schemas.AlertEvent, seen map[string]time.Time, from, to time.Time) []time.Duration {
	sent := map[string]map[uint64]time.Time{}
	for _, e := range entries {
		if sent[e.Station] == nil {
			sent[e.Station] = map[uint64]time.Time{}
		}
		sent[e.Station][e.Seq] = e.FirstSent
	}
	var out []time.Duration
	for id, ev := range expected {
		if (ev.Kind != schemas.AlertFired && ev.Kind != schemas.AlertEscalated) || len(ev.Readings) == 0 {
			continue
		}
		at, ok := seen[id]
		if !ok {
			continue
		}
		t0 := sent[ev.Station][ev.Readings[len(ev.Readings)-1].Seq]
		if t0.IsZero() || t0.Before(from) || (!to.IsZero() && t0.After(to)) {
			continue
		}
		out = append(out, at.Sub(t0))
	}
	slices.Sort(out)
	return out
}

// Percentile returns the p-th percentile (0..100) of sorted ds (0 if none).
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds))*p/100+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
