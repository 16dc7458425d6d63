package rules

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

func longStr(c byte, n int) string { return strings.Repeat(string(c), n) }

// worstState is the largest state the encoding's bounds admit: every count
// at its maximum, every string at its longest, every varint at its widest.
func worstState() *State {
	id := longStr('S', maxStationLen)
	s := &State{station: id, newest: math.MinInt64, boot: math.MaxUint32, maxSeq: math.MaxUint64, seqTS: math.MinInt64, haveSeq: true}
	for i := 0; i < maxRecent; i++ {
		s.recent = append(s.recent, recKey{TS: math.MinInt64 + int64(i), Boot: math.MaxUint32, Seq: math.MaxUint64 - uint64(i)})
	}
	for i := 0; i < maxSensors; i++ {
		ss := &sensorState{k: schemas.Sensor(fmt.Sprintf("%0*d", maxShortLen, i))} // sorted
		step := int64(math.MaxInt64 / MaxHistory)                                  // the widest step MaxHistory samples can take
		for j := 0; j < MaxHistory; j++ {
			ss.Hist = append(ss.Hist, sample{TS: math.MinInt64 + int64(j)*step, Seq: math.MaxUint64, V: math.Pi, Run: math.MaxUint32, Q: -1})
		}
		s.sensors = append(s.sensors, ss)
	}
	ref := schemas.ReadingRef{Seq: math.MaxUint64, TS: ts2t(math.MinInt64), Value: math.Pi}
	c := cond{Pos: math.MinInt64, TS: math.MinInt64, Raw: MaxLevels, Eff: MaxLevels, Run: math.MaxInt32, RunStart: math.MinInt64, V: math.Pi, Ref: rrefOf(ref)}
	for i := 0; i < MaxRules; i++ {
		aid := longStr('A', maxIDLen)
		rs := &ruleState{Base: c, Cur: c, Level: MaxLevels, alertState: &alertState{ID: aid, Start: math.MinInt64, PrevID: longStr('P', maxIDLen)}}
		for j := 0; j < maxEmitted; j++ {
			rs.Emitted = append(rs.Emitted, newEmitKey(schemas.AlertDeescalated, MaxLevels, math.MinInt64+int64(j))) // the longest suffix
		}
		name := fmt.Sprintf("%0*d", maxNameLen, i) // sorted
		kind := schemas.AlertKind(longStr('k', maxShortLen))
		// the event id an active alert's event has: derived (the longest)
		rs.last = slimEvent(&schemas.AlertEvent{V: math.MaxUint8, ID: aid, EventID: schemas.EventID(aid, kind, MaxLevels, ts2t(math.MinInt64)), Kind: kind,
			Station: id, Sensor: schemas.Sensor(longStr('s', maxShortLen)), Rule: name, Level: MaxLevels,
			LevelName: longStr('l', maxLabelLen), Severity: schemas.Severity(longStr('v', maxShortLen)), Value: math.Pi, Threshold: math.Pi,
			Window: longStr('w', maxShortLen), StartedAt: ts2t(math.MinInt64), At: ts2t(math.MinInt64),
			Readings: []schemas.ReadingRef{ref, ref}, District: longStr('d', maxLabelLen), Basin: longStr('b', maxLabelLen),
			Message: longStr('m', maxMessageLen), LevelNameVI: longStr('V', maxLabelLen), LevelNameEN: longStr('N', maxLabelLen),
			Beaufort: rulespec.MaxBeaufort, Colour: longStr('c', maxShortLen), TimeToNext: math.Pi, TimeToFailure: math.Pi})
		s.rules = append(s.rules, rs)
		s.names = append(s.names, name)
	}
	s.rain = newRing(math.MaxInt64, maxRingSlots)
	s.rain.Head = math.MaxInt64
	for i := range s.rain.slots() {
		s.rain.put(int64(i), math.MaxUint32)
	}
	return s
}

// TestWorstCaseStateSize: the largest state the bounds admit encodes to at
// most MaxEncodedState bytes, decodes, and re-encodes to the same bytes.
// (A flooded station used to reach 0.95 MB, over the producer's limit.)
func TestWorstCaseStateSize(t *testing.T) {
	if len(schemas.Specs) > maxSensors {
		t.Fatalf("%d sensor kinds, the encoding's bound is %d", len(schemas.Specs), maxSensors)
	}
	b, err := worstState().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst-case state: %d bytes (bound %d)", len(b), MaxEncodedState)
	if len(b) > MaxEncodedState {
		t.Fatalf("worst-case state encodes to %d bytes, more than MaxEncodedState %d", len(b), MaxEncodedState)
	}
	var s State
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatalf("worst case does not decode: %v", err)
	}
	b2, err := s.MarshalBinary()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("worst case does not round-trip (err %v)", err)
	}
	// One more of anything is refused.
	over := worstState()
	over.recent = append(over.recent, recKey{})
	if b, err := over.MarshalBinary(); err != nil {
		t.Fatal(err)
	} else if err := new(State).UnmarshalBinary(b); !errors.Is(err, ErrBadState) {
		t.Fatalf("%d recent keys accepted: %v", len(over.recent), err)
	}
}

// flood applies 3 h of one reading a second (water level, flood depth,
// tilt, rainfall) to station and returns the state.
func flood(t testing.TB, e *Engine, station string) *State {
	s := e.NewState(station)
	for i := 0; i < 3*3600; i++ {
		e.Apply(s, &schemas.Record{V: 1, Station: station, Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * time.Second),
			Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: 6 + 3*float64(i%997)/997},
				{Sensor: schemas.FloodDepth, Value: float64(i % 40)},
				{Sensor: schemas.Tilt, Value: float64(i%100) * 0.001},
				{Sensor: schemas.Rainfall, Value: float64(i%7) * 0.1},
			}})
	}
	return s
}

// TestFloodedStationStateBounded: a station reporting every second, with
// the default rules plus two more rate rules, keeps a bounded history and
// an encoded state within MaxEncodedState (it measured 0.95 MB, more than
// the 0.94 MiB producer limit, and stalled its partition).
func TestFloodedStationStateBounded(t *testing.T) {
	set := DefaultRuleSet()
	set.Rules = append(set.Rules,
		RuleSpec{Name: "rate:water_level:3h", Kind: KindRate, Sensor: schemas.WaterLevel, Window: 3 * time.Hour,
			Levels: []LevelSpec{{Name: "rising", Threshold: 0.2}}},
		RuleSpec{Name: "rate:flood_depth:2h", Kind: KindRate, Sensor: schemas.FloodDepth, Window: 2 * time.Hour,
			Levels: []LevelSpec{{Name: "rising", Threshold: 5}}})
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	e := mustEngine(t, set)
	for _, st := range []string{"VG-AINGHIA", "UF-NGUYENHUUTHO"} {
		s := flood(t, e, st)
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", st, len(b))
		if len(b) > MaxEncodedState {
			t.Errorf("%s: state %d bytes, more than %d", st, len(b), MaxEncodedState)
		}
		for _, ss := range s.sensors {
			if len(ss.Hist) > MaxHistory {
				t.Errorf("%s %s: %d samples of history, more than %d", st, ss.k, len(ss.Hist), MaxHistory)
			}
		}
	}
}

// oldWire is the gob layout of version 1 with one field renamed (MaxSeq ->
// HighSeq), as an upgrade would have produced it.
type oldWire struct {
	V       int
	Station string
	Newest  int64
	HighSeq uint64
	HaveSeq bool
}

// TestStateRejectsForeignEncodings: bytes of an older version (gob, where a
// renamed field restored silently as zero), an unknown version, trailing
// or truncated bytes and non-minimal varints are ErrBadState, never a
// silently different state.
func TestStateRejectsForeignEncodings(t *testing.T) {
	var g bytes.Buffer
	if err := gob.NewEncoder(&g).Encode(oldWire{V: 1, Station: "VG-AINGHIA", Newest: 5, HighSeq: 42, HaveSeq: true}); err != nil {
		t.Fatal(err)
	}
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	applyAll(e, s, series("VG-AINGHIA", schemas.WaterLevel, 10, 6, 6.6, 7, 8.2))
	good, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	next := append([]byte{stateVersion + 1}, good[1:]...)
	overlong := append([]byte{stateVersion, 0x80 | byte(len("VG-AINGHIA")), 0x00}, good[2:]...)
	tests := []struct {
		name string
		data []byte
	}{
		{"gob version 1 with a renamed field", g.Bytes()},
		{"unknown version", next},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"truncated", good[:len(good)-1]},
		{"non-minimal varint", overlong},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := e.NewState("VG-AINGHIA")
			before, _ := st.MarshalBinary()
			if err := st.UnmarshalBinary(tc.data); !errors.Is(err, ErrBadState) {
				t.Fatalf("got %v, want ErrBadState", err)
			}
			if after, _ := st.MarshalBinary(); !bytes.Equal(before, after) {
				t.Fatal("a failed UnmarshalBinary changed the state")
			}
		})
	}
	var back State
	if err := back.UnmarshalBinary(good); err != nil {
		t.Fatalf("good state: %v", err)
	}
}

// gobWire is the version-1 layout, for comparing the encodings.
type gobWire struct {
	V       int
	Station string
	Newest  int64
	Boot    uint32
	MaxSeq  uint64
	SeqTS   int64
	HaveSeq bool
	Recent  []recKey
	Sensors []struct {
		Sensor schemas.Sensor
		Hist   []sample
	}
	Rules []struct {
		Name string
		S    ruleState
	}
	Rain *ring
}

func toGob(s *State) *gobWire {
	w := &gobWire{V: 1, Station: s.station, Newest: s.newest, Boot: s.boot, MaxSeq: s.maxSeq, SeqTS: s.seqTS, HaveSeq: s.haveSeq, Recent: s.recent, Rain: s.rain}
	for _, ss := range s.sensors {
		w.Sensors = append(w.Sensors, struct {
			Sensor schemas.Sensor
			Hist   []sample
		}{ss.k, ss.Hist})
	}
	for i, rs := range s.rules {
		if rs == nil {
			continue
		}
		w.Rules = append(w.Rules, struct {
			Name string
			S    ruleState
		}{s.names[i], *rs})
	}
	return w
}

// BenchmarkStateCodec: marshal and unmarshal of a typical station (72 h of
// 10-minute readings, BenchmarkStateMemory10k's workload) and of the worst
// case, in the binary encoding and, for comparison, gob; bytes/state is the
// encoded size.
func BenchmarkStateCodec(b *testing.B) {
	e := mustEngine(b, nil)
	typical := e.NewState("VG-AINGHIA")
	for k := 0; k < 72*6; k++ {
		e.Apply(typical, &schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: uint64(k + 1), TS: t0.Add(time.Duration(k) * 10 * time.Minute),
			Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: 6 + float64(k%50)/20},
				{Sensor: schemas.Rainfall, Value: float64((k*7)%9) * 0.2},
			}})
	}
	for _, c := range []struct {
		name string
		s    *State
	}{{"typical", typical}, {"flooded", flood(b, e, "VG-AINGHIA")}, {"worst", worstState()}} {
		bin, err := c.s.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		var g bytes.Buffer
		if err := gob.NewEncoder(&g).Encode(toGob(c.s)); err != nil {
			b.Fatal(err)
		}
		gb := g.Bytes()
		b.Run(c.name+"/binary/marshal", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := c.s.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bin)), "bytes/state")
		})
		b.Run(c.name+"/binary/unmarshal", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var s State
				if err := s.UnmarshalBinary(bin); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bin)), "bytes/state")
		})
		b.Run(c.name+"/gob/marshal", func(b *testing.B) {
			w := toGob(c.s)
			for i := 0; i < b.N; i++ {
				var buf bytes.Buffer
				if err := gob.NewEncoder(&buf).Encode(w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(gb)), "bytes/state")
		})
		b.Run(c.name+"/gob/unmarshal", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var w gobWire
				if err := gob.NewDecoder(bytes.NewReader(gb)).Decode(&w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(gb)), "bytes/state")
		})
	}
}

// TestAppendBinary: AppendBinary appends exactly MarshalBinary's bytes,
// keeping what dst held, and reuses dst's capacity.
func TestAppendBinary(t *testing.T) {
	e := mustEngine(t, nil)
	s := flood(t, e, "VG-AINGHIA")
	want, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range [][]byte{nil, []byte("key:"), make([]byte, 3, len(want)+16)} {
		got, err := s.AppendBinary(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("prefix %q: AppendBinary is not prefix + MarshalBinary", prefix)
		}
		if cap(prefix) >= len(want)+len(prefix) && &got[0] != &prefix[:1][0] {
			t.Fatalf("prefix with room: AppendBinary did not reuse it")
		}
	}
}

// TestActiveAlertEventKeptSlim: an active alert keeps its latest event
// without its ids, station and rule, yet Active returns the event as
// emitted, the state encodes it whole (as encodeEvent writes it), and a
// decoded state gives it back.
func TestActiveAlertEventKeptSlim(t *testing.T) {
	e := mustEngine(t, nil)
	st := e.NewState("VG-AINGHIA")
	evs := applyAll(e, st, series("VG-AINGHIA", schemas.WaterLevel, 10, 6.0, 6.6, 7.0, 8.2))
	lastOf := map[string]schemas.AlertEvent{}
	for _, ev := range evs {
		lastOf[ev.Rule] = ev
	}
	act := st.Active()
	if len(act) == 0 {
		t.Fatal("no active alert")
	}
	data, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back := &State{}
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, got := range act {
		want, ok := lastOf[got.Rule]
		if !ok {
			t.Fatalf("active %s: no event emitted", got.Rule)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("active %s:\n got %+v\nwant %+v", got.Rule, got, want)
		}
		rs := st.ruleNamed(got.Rule)
		full := encodeEvent(&want)
		if len(rs.last) >= len(full)-len(want.ID)-len(want.EventID) {
			t.Errorf("%s: kept %d bytes for a %d-byte event with %d bytes of ids", got.Rule, len(rs.last), len(full), len(want.ID)+len(want.EventID))
		}
		if !bytes.Contains(data, full) {
			t.Errorf("%s: the state encoding does not hold the whole event", got.Rule)
		}
	}
	if got := back.Active(); !reflect.DeepEqual(got, act) {
		t.Errorf("decoded state's active alerts:\n got %+v\nwant %+v", got, act)
	}
	if again, err := back.MarshalBinary(); err != nil || !bytes.Equal(again, data) {
		t.Errorf("re-encoded state differs (err %v)", err)
	}
}

// TestUnderivedAlertEventRefused: a state whose active alert's event has
// another alert's id, event id, station or rule would lose it in memory:
// it is refused as bad.
func TestUnderivedAlertEventRefused(t *testing.T) {
	e := mustEngine(t, nil)
	st := e.NewState("VG-AINGHIA")
	evs := applyAll(e, st, series("VG-AINGHIA", schemas.WaterLevel, 10, 6.0, 6.6))
	if len(evs) == 0 {
		t.Fatal("no event")
	}
	ev := evs[len(evs)-1]
	data, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	full := encodeEvent(&ev)
	for _, tc := range []struct {
		name string
		edit func(*schemas.AlertEvent)
	}{
		{"alert id", func(x *schemas.AlertEvent) { x.ID = "VG-AINGHIA-0000000000000000" }},
		{"event id", func(x *schemas.AlertEvent) { x.EventID += "0" }},
		{"station", func(x *schemas.AlertEvent) { x.Station = "VG-OTHER" }},
		{"rule", func(x *schemas.AlertEvent) { x.Rule = "level:other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := ev
			tc.edit(&x)
			bad := bytes.Replace(data, full, encodeEvent(&x), 1)
			if bytes.Equal(bad, data) {
				t.Fatal("event not found in the encoding")
			}
			if err := (&State{}).UnmarshalBinary(bad); !errors.Is(err, ErrBadState) {
				t.Errorf("decoded: err %v, want ErrBadState", err)
			}
		})
	}
}
