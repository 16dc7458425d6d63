package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// The changelog encoding of a State (MarshalBinary): explicit, versioned
// and strict. Layout, in this order and nothing else (uv: unsigned varint,
// sv: signed varint, f: float64 little endian, str: uv length + bytes,
// time: 0, or 1 and sv unix ns; every count is checked against its bound):
//
//	version byte (stateVersion)
//	station str, newest sv, boot uv, maxSeq uv, seqTS sv, haveSeq byte
//	recent: count, then per key ts sv, boot uv, seq uv
//	sensors: count, by name strictly ascending: name str, history count,
//	  then per sample ts (sv, first absolute, then the step > 0), seq uv, v f, run uv, q byte
//	rules: count, by name strictly ascending: name str, base cond, cur cond,
//	  level uv, id str, start sv, last (0, or 1 and the event), emitted
//	  count then per event id its suffix after "ID:" as str, prevID str
//	  cond: pos sv, ts sv, raw uv, eff uv, run uv, runStart sv, v f, ref
//	  ref: seq uv, ts time, value f
//	  event: v uv, id, eventID, kind, station, sensor, rule str, level uv,
//	    levelName, severity str, value f, threshold f, window str,
//	    startedAt time, at time, readings count + refs, district, basin,
//	    message str, then (since version 3) levelNameVI, levelNameEN str,
//	    beaufort uv, colour str, timeToNext f, timeToFailure f
//	rain: 0, or 1 and bucket sv, head sv, slots count + uv each
//
// A field cannot be renamed or dropped silently: any change of the layout
// is a new stateVersion, and UnmarshalBinary rejects every other version
// (and trailing bytes, non-minimal varints, unsorted keys) with
// ErrBadState; the processor then starts that station fresh and the
// changelog is rebuilt by replay. Equal states encode to equal bytes, and
// accepted bytes re-encode to themselves.
//
// Migration: version 2 (events without the grade fields of version 3) is
// still read, as a version 3 state whose stored events have those fields
// empty (they are optional in the alert event); it re-encodes as version
// 3. Every other version is refused.
const stateVersion = 3

// stateVersionV2 is the previous layout, read by migration.
const stateVersionV2 = 2

// MaxEncodedState is the most bytes MarshalBinary writes for one station,
// well below the 0.94 MiB Kafka producer limit of the changelog. It holds
// by construction: every part of a State is bounded (MaxHistory samples
// per sensor of at most len(schemas.Specs) sensors, maxRecent record keys,
// MaxRules rules with maxEmitted event ids each, a rainfall ring of at
// most maxRingSlots, strings of at most the lengths below);
// TestWorstCaseStateSize builds the largest state these bounds allow and
// checks it.
const MaxEncodedState = 256 << 10

// String and count bounds of the encoding.
const (
	maxStationLen = 64                     // schemas.ValidStationID
	maxNameLen    = rulespec.MaxNameLen    // rule names (RuleSpec.Name)
	maxLabelLen   = rulespec.MaxLabelLen   // district, basin (cut at bind), level names
	maxIDLen      = maxStationLen + 1 + 16 // schemas.AlertID
	maxSuffixLen  = 40                     // ":kind:level:at" of schemas.EventID
	maxEventIDLen = maxIDLen + maxSuffixLen
	maxMessageLen = 512 // message(): two names, a kind, a sensor, a window, two numbers
	maxShortLen   = 16  // sensor, kind, severity, window label
	maxSensors    = 8   // len(schemas.Specs), checked by a test
	maxReadings   = 2
	// maxRingSlots is the longest rainfall ring: (72h window + 24h
	// lateness) / 1m bucket + 2.
	maxRingSlots = int((72*time.Hour+24*time.Hour)/time.Minute) + 2
)

var errCodec = errors.New("malformed")

type encoder struct{ b []byte }

func (e *encoder) uv(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) sv(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) f(v float64)   { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }
func (e *encoder) str(s string)  { e.uv(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) byte1(v uint8) { e.b = append(e.b, v) }
func (e *encoder) flag(v bool) {
	if v {
		e.byte1(1)
	} else {
		e.byte1(0)
	}
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.byte1(0)
		return
	}
	e.byte1(1)
	e.sv(t.UnixNano())
}

func (e *encoder) ref(r schemas.ReadingRef) { e.uv(r.Seq); e.time(r.TS); e.f(r.Value) }

func (e *encoder) cond(c *cond) {
	e.sv(c.Pos)
	e.sv(c.TS)
	e.uv(uint64(c.Raw))
	e.uv(uint64(c.Eff))
	e.uv(uint64(c.Run))
	e.sv(c.RunStart)
	e.f(c.V)
	e.ref(c.Ref.ref())
}

func (e *encoder) event(ev *schemas.AlertEvent) {
	e.uv(uint64(ev.V))
	e.str(ev.ID)
	e.str(ev.EventID)
	e.str(string(ev.Kind))
	e.str(ev.Station)
	e.str(string(ev.Sensor))
	e.str(ev.Rule)
	e.uv(uint64(ev.Level))
	e.str(ev.LevelName)
	e.str(string(ev.Severity))
	e.f(ev.Value)
	e.f(ev.Threshold)
	e.str(ev.Window)
	e.time(ev.StartedAt)
	e.time(ev.At)
	e.uv(uint64(len(ev.Readings)))
	for _, r := range ev.Readings {
		e.ref(r)
	}
	e.str(ev.District)
	e.str(ev.Basin)
	e.str(ev.Message)
	e.str(ev.LevelNameVI)
	e.str(ev.LevelNameEN)
	e.uv(uint64(ev.Beaufort))
	e.str(ev.Colour)
	e.f(ev.TimeToNext)
	e.f(ev.TimeToFailure)
}

// MarshalBinary encodes the state for the processor's compacted changelog
// (the layout is described at stateVersion). Equal states encode to equal
// bytes; the result is at most MaxEncodedState bytes.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 1024))
}

// AppendBinary appends the encoding of MarshalBinary to dst (which it may
// reuse, as encoding.BinaryAppender) and returns the extended slice.
func (s *State) AppendBinary(dst []byte) ([]byte, error) {
	e := &encoder{b: dst}
	e.byte1(stateVersion)
	e.str(s.station)
	e.sv(s.newest)
	e.uv(uint64(s.boot))
	e.uv(s.maxSeq)
	e.sv(s.seqTS)
	e.flag(s.haveSeq)
	e.uv(uint64(len(s.recent)))
	for _, k := range s.recent {
		e.sv(k.TS)
		e.uv(uint64(k.Boot))
		e.uv(k.Seq)
	}
	e.uv(uint64(len(s.sensors)))
	for _, ss := range s.sensors { // sorted by sensor
		e.str(string(ss.k))
		h := ss.Hist
		e.uv(uint64(len(h)))
		for i, smp := range h {
			if i == 0 {
				e.sv(smp.TS)
			} else {
				e.sv(smp.TS - h[i-1].TS)
			}
			e.uv(smp.Seq)
			e.f(smp.V)
			e.uv(uint64(smp.Run))
			e.byte1(uint8(smp.Q))
		}
	}
	nr := 0
	for _, rs := range s.rules {
		if rs != nil {
			nr++
		}
	}
	e.uv(uint64(nr))
	for i, rs := range s.rules { // sorted by name
		if rs == nil {
			continue
		}
		n := s.names[i]
		e.str(n)
		e.cond(&rs.Base)
		e.cond(&rs.Cur)
		e.uv(uint64(rs.Level))
		var a alertState
		if rs.alertState != nil {
			a = *rs.alertState
		}
		e.str(a.ID)
		e.sv(a.Start)
		e.flag(a.last != "")
		if a.last != "" {
			e.fullEvent(a.last, a.ID, s.station, n)
		}
		e.uv(uint64(len(a.Emitted)))
		if a.ID == "" && len(a.Emitted) > 0 {
			return nil, fmt.Errorf("rules: encode state of %s: rule %s: event ids without an alert", s.station, n)
		}
		for _, k := range a.Emitted {
			e.str(k.suffix())
		}
		e.str(a.PrevID)
	}
	e.flag(s.rain != nil)
	if r := s.rain; r != nil {
		e.sv(r.Bucket)
		e.sv(r.Head)
		n := r.slots()
		e.uv(uint64(n))
		for i := range n {
			e.uv(uint64(r.at(int64(i))))
		}
	}
	return e.b, nil
}

// uvLen is the length of the minimal uvarint of v.
func uvLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// zigzag is the unsigned form binary.AppendVarint encodes v as.
func zigzag(v int64) uint64 {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return u
}

type decoder struct {
	b   []byte
	err error
	// version is the layout being read (stateVersion or stateVersionV2).
	version uint8
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCodec}, args...)...)
	}
}

func (d *decoder) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvLen(v) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) sv() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != uvLen(zigzag(v)) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// small reads a uv that must be at most max.
func (d *decoder) small(what string, max int) int {
	v := d.uv()
	if v > uint64(max) {
		d.fail("%s %d, at most %d", what, v, max)
		return 0
	}
	return int(v)
}

func (d *decoder) byte1() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) flag() bool {
	switch d.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad flag")
	return false
}

func (d *decoder) f() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) str(what string, max int) string {
	n := d.small(what+" length", max)
	if d.err != nil {
		return ""
	}
	if n > len(d.b) {
		d.fail("truncated %s", what)
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() time.Time {
	if !d.flag() {
		return time.Time{}
	}
	return ts2t(d.sv())
}

func (d *decoder) ref() schemas.ReadingRef {
	return schemas.ReadingRef{Seq: d.uv(), TS: d.time(), Value: d.f()}
}

func (d *decoder) cond() cond {
	c := cond{Pos: d.sv(), TS: d.sv(), Raw: int8(d.small("raw level", MaxLevels)), Eff: int8(d.small("level", MaxLevels)),
		Run: int32(d.small("run", math.MaxInt32)), RunStart: d.sv(), V: d.f()}
	r := d.ref()
	// A condition's reading is none (all zero) or has a time, never the
	// epoch (rref's "none"): anything else would not encode back the same.
	none := r.TS.IsZero()
	if d.err == nil && (none && (r.Seq != 0 || r.Value != 0 || math.Signbit(r.Value)) || !none && r.TS.UnixNano() == 0) {
		d.fail("condition reading %+v", r)
	}
	c.Ref = rrefOf(r)
	return c
}

// encodeEvent is ev in the state encoding of this version.
func encodeEvent(ev *schemas.AlertEvent) []byte {
	e := encoder{b: make([]byte, 0, 256)}
	e.event(ev)
	return append([]byte(nil), e.b...)
}

// slimEvent is the encoding of ev, an event of the active alert of a
// rule, without what the rule's state holds already: its ID, EventID,
// Station and Rule are written empty (fillEvent and fullEvent put them
// back). An alert's event ids are derived from it (schemas.EventID).
func slimEvent(ev *schemas.AlertEvent) string {
	s := *ev
	s.ID, s.EventID, s.Station, s.Rule = "", "", "", ""
	e := encoder{b: make([]byte, 0, 320)}
	e.event(&s)
	return string(e.b)
}

// derived reports whether slimEvent loses nothing of ev, the event of
// alert id of rule on station: what it drops is what fillEvent puts back.
func derived(ev *schemas.AlertEvent, id, station, rule string) bool {
	return ev.ID == id && ev.Station == station && ev.Rule == rule &&
		ev.EventID == schemas.EventID(id, ev.Kind, ev.Level, ev.At)
}

// fillEvent puts back into ev, decoded from a slimEvent, the alert id, its
// event id, the station and the rule.
func fillEvent(ev *schemas.AlertEvent, id, station, rule string) {
	ev.ID, ev.Station, ev.Rule = id, station, rule
	ev.EventID = schemas.EventID(id, ev.Kind, ev.Level, ev.At)
}

// fullEvent appends the event slim (a slimEvent) as event() writes it,
// with the alert id id, its event id, station and rule put back: bytes of
// slim are copied, not decoded. It panics if slim is not a slimEvent.
func (e *encoder) fullEvent(slim, id, station, rule string) {
	c := strCursor{s: slim}
	v := c.uv()
	c.str() // ID
	c.str() // EventID
	kind := c.str()
	c.str() // Station
	sensor := c.str()
	c.str() // Rule
	mid := c.i
	level := c.uv()
	c.str()  // LevelName
	c.str()  // Severity
	c.n(16)  // Value, Threshold
	c.str()  // Window
	c.time() // StartedAt
	at := c.time()
	if c.bad {
		panic(fmt.Sprintf("rules: an active alert's event of rule %s is not a slim event", rule))
	}
	e.uv(v)
	e.str(id)
	e.str(schemas.EventID(id, schemas.AlertKind(kind), int(level), time.Unix(0, at)))
	e.str(kind)
	e.str(station)
	e.str(sensor)
	e.str(rule)
	e.b = append(e.b, slim[mid:]...)
}

// strCursor reads the primitives of the encoding from a string without
// copying it; bad: the string ended early or held a bad varint.
type strCursor struct {
	s   string
	i   int
	bad bool
}

func (c *strCursor) uv() uint64 {
	var x uint64
	for k, sh := 0, uint(0); k < binary.MaxVarintLen64; k, sh = k+1, sh+7 {
		if c.i >= len(c.s) {
			break
		}
		b := c.s[c.i]
		c.i++
		if b < 0x80 {
			return x | uint64(b)<<sh
		}
		x |= uint64(b&0x7f) << sh
	}
	c.bad = true
	return 0
}

// n skips k bytes.
func (c *strCursor) n(k int) {
	if c.i+k > len(c.s) {
		c.bad, c.i = true, len(c.s)
		return
	}
	c.i += k
}

func (c *strCursor) str() string {
	n := c.uv()
	if c.bad || n > uint64(len(c.s)-c.i) {
		c.bad = true
		return ""
	}
	s := c.s[c.i : c.i+int(n)]
	c.i += int(n)
	return s
}

// time is a time encoder.time wrote, in unix ns (the zero time's for
// none, as schemas.EventID formats it).
func (c *strCursor) time() int64 {
	c.n(1)
	if c.bad || c.s[c.i-1] == 0 {
		return time.Time{}.UnixNano()
	}
	u := c.uv()
	return int64(u>>1) ^ -int64(u&1) // zigzag, as binary.AppendVarint
}

// decodeEvent reads an event encodeEvent wrote.
func decodeEvent(b []byte) (*schemas.AlertEvent, error) {
	d := &decoder{b: b, version: stateVersion}
	ev := d.event()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the event", len(d.b))
	}
	return ev, d.err
}

func (d *decoder) event() *schemas.AlertEvent {
	ev := &schemas.AlertEvent{V: d.small("event version", math.MaxUint8), ID: d.str("alert id", maxIDLen),
		EventID: d.str("event id", maxEventIDLen), Kind: schemas.AlertKind(d.str("kind", maxShortLen)),
		Station: d.str("station", maxStationLen), Sensor: schemas.Sensor(d.str("sensor", maxShortLen)),
		Rule: d.str("rule", maxNameLen), Level: d.small("event level", MaxLevels), LevelName: d.str("level name", maxLabelLen),
		Severity: schemas.Severity(d.str("severity", maxShortLen)), Value: d.f(), Threshold: d.f(),
		Window: d.str("window", maxShortLen), StartedAt: d.time(), At: d.time()}
	if n := d.small("readings", maxReadings); n > 0 {
		ev.Readings = make([]schemas.ReadingRef, n)
		for i := range ev.Readings {
			ev.Readings[i] = d.ref()
		}
	}
	ev.District, ev.Basin = d.str("district", maxLabelLen), d.str("basin", maxLabelLen)
	ev.Message = d.str("message", maxMessageLen)
	if d.version >= 3 {
		ev.LevelNameVI, ev.LevelNameEN = d.str("level name vi", maxLabelLen), d.str("level name en", maxLabelLen)
		ev.Beaufort = d.small("beaufort", rulespec.MaxBeaufort)
		ev.Colour = d.str("colour", maxShortLen)
		ev.TimeToNext, ev.TimeToFailure = d.f(), d.f()
	}
	return ev
}

// UnmarshalBinary replaces s with a state written by MarshalBinary. Bytes
// of another version or layout, or that break a bound, return an error
// wrapping ErrBadState and leave s unchanged.
func (s *State) UnmarshalBinary(data []byte) error {
	ns, err := decodeState(data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	*s = *ns
	return nil
}

func decodeState(data []byte) (*State, error) {
	d := &decoder{b: data}
	if d.version = d.byte1(); d.err == nil && d.version != stateVersion && d.version != stateVersionV2 {
		return nil, fmt.Errorf("version %d, want %d (or %d, migrated)", d.version, stateVersion, stateVersionV2)
	}
	ns := &State{station: d.str("station", maxStationLen), newest: d.sv()}
	ns.boot = uint32(d.small("boot", math.MaxUint32))
	ns.maxSeq, ns.seqTS, ns.haveSeq = d.uv(), d.sv(), d.flag()
	if n := d.small("recent keys", maxRecent); n > 0 {
		ns.recent = make([]recKey, n)
		for i := range ns.recent {
			ns.recent[i] = recKey{TS: d.sv(), Boot: uint32(d.small("boot", math.MaxUint32)), Seq: d.uv()}
		}
		// Kept sorted by TS (addRecent); states written before were in
		// arrival order.
		sort.SliceStable(ns.recent, func(i, j int) bool { return ns.recent[i].TS < ns.recent[j].TS })
	}
	prev := ""
	for i, n := 0, d.small("sensors", maxSensors); i < n && d.err == nil; i++ {
		name := d.str("sensor", maxShortLen)
		if i > 0 && name <= prev {
			d.fail("sensors not sorted")
		}
		prev = name
		ss := &sensorState{k: schemas.Sensor(name), Hist: make([]sample, d.small("history", MaxHistory))}
		for j := range ss.Hist {
			ts := d.sv()
			if j > 0 {
				if ts <= 0 {
					d.fail("sensor %s history not sorted", name)
				}
				ts += ss.Hist[j-1].TS
			}
			ss.Hist[j] = sample{TS: ts, Seq: d.uv(), V: d.f(), Run: uint32(d.small("run", math.MaxUint32)), Q: int8(d.byte1())}
		}
		ns.sensors = append(ns.sensors, ss)
	}
	prev = ""
	for i, n := 0, d.small("rules", MaxRules); i < n && d.err == nil; i++ {
		name := d.str("rule", maxNameLen)
		if i > 0 && name <= prev {
			d.fail("rules not sorted")
		}
		prev = name
		rs := &ruleState{Base: d.cond(), Cur: d.cond(), Level: d.small("level", MaxLevels)}
		a := &alertState{ID: d.str("alert id", maxIDLen), Start: d.sv()}
		if d.flag() {
			if ev := d.event(); d.err == nil {
				if !derived(ev, a.ID, ns.station, name) {
					// slimEvent would lose what differs
					d.fail("rule %s: the active alert's event %q is not of alert %q, station %q, rule %q", name, ev.EventID, a.ID, ns.station, name)
				}
				a.last = slimEvent(ev)
			}
		}
		if m := d.small("emitted", maxEmitted); m > 0 {
			a.Emitted = make([]emitKey, m)
			if a.ID == "" {
				d.fail("rule %s: event ids without an alert", name)
			}
			for j := range a.Emitted {
				sfx := d.str("event id", maxSuffixLen)
				k, ok := parseEmitKey(sfx)
				if !ok && d.err == nil {
					d.fail("rule %s: event id suffix %q", name, sfx)
				}
				a.Emitted[j] = k
			}
		}
		a.PrevID = d.str("previous alert id", maxIDLen)
		if d.err == nil && (rs.Level > 0) != (a.last != "") {
			d.fail("rule %s alert level %d", name, rs.Level)
		}
		if rs.Level > 0 || a.ID != "" || a.PrevID != "" || a.Start != 0 {
			rs.alertState = a
		}
		ns.rules = append(ns.rules, rs)
		ns.names = append(ns.names, name)
	}
	if d.flag() {
		bucket, head := d.sv(), d.sv()
		r := newRing(bucket, d.small("rain slots", maxRingSlots))
		r.Head = head
		for i := range r.slots() {
			r.put(int64(i), uint32(d.small("rain slot", math.MaxUint32)))
		}
		if d.err == nil && (r.Bucket <= 0 || r.slots() == 0 || r.Head < 0) {
			d.fail("rainfall ring")
		}
		ns.rain = r
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	if ns.station != "" && !schemas.ValidStationID(ns.station) {
		return nil, fmt.Errorf("station id %q", ns.station)
	}
	return ns, nil
}
