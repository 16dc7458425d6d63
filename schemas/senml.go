package schemas

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// senmlRec is one SenML (RFC 8428) JSON record as parsed. Only bn, bt, bu,
// bv, n, u, v and t are used; the other RFC 8428 labels (bver, bs, s, ut,
// vs, vb, vd) are type-checked and ignored, and a record without a numeric
// v is rejected. The has* flags record presence, so that an explicit zero
// (e.g. "bt":0) replaces an earlier base value, as RFC 8428 requires.
type senmlRec struct {
	bn, bu, n, u []byte
	hasBN, hasBU bool
	bt, bv, t    float64
	hasBT, hasBV bool
	v            []byte // raw scalar; nil if absent
}

// senmlLabels are the RFC 8428 JSON labels, each with its member bit.
var senmlLabels = [...]string{"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}

// maxSenMLMembers is the most members one SenML record may have: the 15
// RFC 8428 labels and 16 extensions (the schema's maxProperties). It keeps
// the duplicate check of extension labels cheap.
const maxSenMLMembers = 31

// senmlRelative is RFC 8428's bound: a resolved time below 2^28 seconds is
// relative to now.
const senmlRelative = 1 << 28

// senmlMaxAbs is the largest absolute SenML time accepted (seconds).
const senmlMaxAbs = maxTSUnix

// senmlBase holds the base values in force for a record.
type senmlBase struct {
	bn    []byte
	hasBN bool
	bu    []byte
	bt    float64
	bv    float64
}

// senmlGroup is the Record being built for one resolved time.
type senmlGroup struct {
	rec    Record
	hasSeq bool
}

// decodeSenML maps a SenML pack to Records.
//
// Parsing is strict (see parseSenML): member names exact and unique per
// record, RFC 8428 labels of their RFC types, a label ending in "_" or
// differing from an RFC label only in case is ReasonUnknownField, other
// extension labels may only carry scalars and are ignored, and a record has
// at most maxSenMLMembers members (ReasonOversize).
//
// Mapping: the resolved name of each record (base name + name) is either a
// sensor kind or "seq", optionally prefixed by "{station}:" or
// "{station}/"; a prefix or base name naming another station is
// ReasonStationMismatch, and a base name must end in ':' or '/'. A sensor
// kind the station does not declare is ReasonUndeclaredSensor (battery is
// device health and needs no declaration). The value is bv + v (RFC 8428
// base value). Records are grouped by resolved time (bt+t, seconds since
// the epoch; SenML relative times, |t| < 2^28, are relative to now; both
// are truncated to the millisecond); each group becomes one Record with
// Format "senml", and the same resolved name twice in a group is
// ReasonDuplicateSensor (InfluxDB would keep one of the two). A group whose
// "seq" record is absent takes its time in epoch milliseconds as seq. A
// "battery" record sets Record.Battery. A group with no sensor reading and
// no battery (e.g. a lone "seq") is ReasonMissingField. As for v1, one bad
// record rejects the whole pack.
func (d *Decoder) decodeSenML(st *Station, payload []byte, now time.Time) ([]Record, error) {
	maxRecs := 0
	if d.Opts.MaxBatch > 0 {
		maxRecs = d.Opts.MaxBatch * 8
	}
	pack, err := parseSenML(payload, maxRecs)
	if err != nil {
		return nil, err
	}
	var bn, bu []byte
	var hasBN bool
	var bt, bv float64
	groups := map[int64]*senmlGroup{}
	for i := range pack {
		r := &pack[i]
		if r.hasBN {
			bn, hasBN = r.bn, true
		}
		if r.hasBT {
			bt = r.bt
		}
		if r.hasBU {
			bu = r.bu
		}
		if r.hasBV {
			bv = r.bv
		}
		if err := d.senmlRecord(st, groups, r, senmlBase{bn, hasBN, bu, bt, bv}, now); err != nil {
			return nil, atIndex(err, "senml", i)
		}
	}
	keys := make([]int64, 0, len(groups))
	for k, g := range groups {
		if len(g.rec.Readings) == 0 && g.rec.Battery == nil {
			return nil, Reject(ReasonMissingField, "senml: no reading at "+g.rec.TS.Format(time.RFC3339Nano))
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]Record, 0, len(keys))
	for _, k := range keys {
		out = append(out, groups[k].rec)
	}
	return out, nil
}

// senmlRecord applies one SenML record, with the base values in force, to
// its time's group in groups (creating it).
func (d *Decoder) senmlRecord(st *Station, groups map[int64]*senmlGroup, r *senmlRec, base senmlBase, now time.Time) error {
	name, err := senmlName(st.ID, string(base.bn), base.hasBN, string(r.n))
	if err != nil {
		return err
	}
	if name != "seq" && Sensor(name) != Battery {
		if err := checkSensor(st, Sensor(name)); err != nil {
			return err
		}
	}
	v, err := parseNumber(r.v, "v")
	if err != nil {
		return err
	}
	ts, err := senmlTime(base.bt+r.t, now)
	if err != nil {
		return err
	}
	if d.Opts.MaxFuture > 0 && ts.After(now.Add(d.Opts.MaxFuture)) {
		return Reject(ReasonFutureTS, fmt.Sprintf("ts %s is %s ahead", ts.Format(time.RFC3339), ts.Sub(now).Round(time.Second)))
	}
	key := ts.UnixMilli()
	g := groups[key]
	if g == nil {
		g = &senmlGroup{rec: Record{V: RecordVersion, Station: st.ID, Seq: uint64(key), TS: ts, ReceivedAt: now.UTC(), Format: "senml", Readings: []Measurement{}}}
		groups[key] = g
	}
	if err := g.checkDuplicate(name, ts); err != nil {
		return err
	}
	if name == "seq" {
		if v < 0 || v != math.Trunc(v) || v > 1<<53 {
			return Reject(ReasonBadJSON, "seq must be an integer in [0, 2^53]")
		}
		g.rec.Seq = uint64(v)
		g.hasSeq = true
		return nil
	}
	unit := r.u
	if len(unit) == 0 {
		unit = base.bu
	}
	// The base value applies to numeric values (RFC 8428 section 4.1).
	cv, err := Normalize(Sensor(name), base.bv+v, senmlUnit(string(unit)))
	if err != nil {
		return err
	}
	if Sensor(name) == Battery {
		g.rec.Battery = &cv
		return nil
	}
	g.rec.Readings = append(g.rec.Readings, Measurement{Sensor: Sensor(name), Value: cv, Unit: Specs[Sensor(name)].Unit})
	return nil
}

// checkDuplicate rejects a second record of name at the group's time.
func (g *senmlGroup) checkDuplicate(name string, ts time.Time) error {
	dup := false
	switch {
	case name == "seq":
		dup = g.hasSeq
	case Sensor(name) == Battery:
		dup = g.rec.Battery != nil
	default:
		for _, m := range g.rec.Readings {
			dup = dup || m.Sensor == Sensor(name)
		}
	}
	if dup {
		return Reject(ReasonDuplicateSensor, fmt.Sprintf("%s twice at %s", name, ts.Format(time.RFC3339Nano)))
	}
	return nil
}

// parseSenML parses a SenML JSON pack (an array of 1 to maxRecs records;
// maxRecs <= 0 means no limit) in one pass.
func parseSenML(payload []byte, maxRecs int) ([]senmlRec, error) {
	s := &scanner{data: payload}
	if s.ws() != '[' {
		return nil, Reject(ReasonBadJSON, "a SenML pack must be a JSON array, got "+s.what())
	}
	s.pos++
	pack := make([]senmlRec, 0, 8)
	for i := 0; ; i++ {
		more, err := s.elem(i == 0)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if maxRecs > 0 && i >= maxRecs {
			return nil, Reject(ReasonOversize, fmt.Sprintf("SenML pack of more than %d records", maxRecs))
		}
		pack = append(pack, senmlRec{})
		if err := parseSenMLRec(s, &pack[i]); err != nil {
			return nil, atIndex(err, "senml", i)
		}
	}
	if len(pack) == 0 {
		return nil, Reject(ReasonEmpty, "empty SenML pack")
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return pack, nil
}

// parseSenMLRec parses one SenML record object into r.
func parseSenMLRec(s *scanner, r *senmlRec) error {
	if s.ws() != '{' {
		return Reject(ReasonBadJSON, "a SenML record must be a JSON object, got "+s.what())
	}
	s.pos++
	var set uint32
	var ext [][]byte // extension labels seen, for duplicates
	for n := 0; ; n++ {
		name, more, err := s.member(n == 0)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if n == maxSenMLMembers {
			return Reject(ReasonOversize, fmt.Sprintf("more than %d members in one SenML record", maxSenMLMembers))
		}
		bit := senmlLabelBit(name)
		if bit == 0 {
			if err := senmlExtension(s, name, &ext); err != nil {
				return err
			}
			continue
		}
		if err := seen(&set, bit, name); err != nil {
			return err
		}
		if err := senmlField(s, r, string(name)); err != nil {
			return err
		}
	}
}

// senmlLabelBit returns the member bit of an RFC 8428 label, or 0.
func senmlLabelBit(name []byte) uint32 {
	for i, l := range senmlLabels {
		if string(name) == l {
			return 1 << i
		}
	}
	return 0
}

// senmlField reads the value of RFC 8428 label name into r.
func senmlField(s *scanner, r *senmlRec, name string) error {
	var err error
	switch name {
	case "bn":
		r.bn, err = senmlString(s, name)
		r.hasBN = true
	case "bu":
		r.bu, err = senmlString(s, name)
		r.hasBU = true
	case "n":
		r.n, err = senmlString(s, name)
	case "u":
		r.u, err = senmlString(s, name)
	case "vs", "vd":
		_, err = senmlString(s, name)
	case "bt":
		r.bt, err = senmlFloat(s, name)
		r.hasBT = true
	case "t":
		r.t, err = senmlFloat(s, name)
	case "bv":
		r.bv, err = senmlFloat(s, name)
		r.hasBV = true
		if err == nil && math.IsInf(r.bv, 0) {
			err = Reject(ReasonNotFinite, "bv out of float64 range")
		}
	case "bs", "s", "ut":
		_, err = senmlFloat(s, name)
	case "bver":
		_, err = intMember(s, name, 1, math.MaxInt32)
	case "vb":
		if c := s.ws(); c != 't' && c != 'f' {
			return Reject(ReasonBadJSON, "vb must be a boolean, got "+s.what())
		}
		_, err = s.literal()
	case "v":
		if c := s.ws(); c == '{' || c == '[' {
			return Reject(ReasonBadJSON, "v must be a number, got "+s.what())
		}
		r.v, err = s.scalar()
	}
	return err
}

// senmlString reads a string label value.
func senmlString(s *scanner, name string) ([]byte, error) {
	if s.ws() != '"' {
		return nil, Reject(ReasonBadJSON, name+" must be a string, got "+s.what())
	}
	return s.str()
}

// senmlFloat reads a number label value; beyond float64 it is ±Inf (times
// then fail as ReasonBadTimestamp).
func senmlFloat(s *scanner, name string) (float64, error) {
	text, err := numberMember(s, name)
	if err != nil {
		return 0, err
	}
	f, _ := strconv.ParseFloat(string(text), 64) // grammar checked; only a range error remains
	return f, nil
}

// senmlExtension handles a label that is not an RFC 8428 one: one ending
// in "_" must be understood (RFC 8428 section 4.4) and is rejected, as is
// one that differs from an RFC 8428 label only in case (a device bug that
// encoding/json would have silently accepted as the label); any other is
// ignored, but its value must be a scalar and the label unique in the
// record.
func senmlExtension(s *scanner, name []byte, ext *[][]byte) error {
	if bytes.HasSuffix(name, []byte("_")) {
		return Reject(ReasonUnknownField, "SenML label "+strconv.Quote(truncate(string(name), 40))+" must be understood (RFC 8428 section 4.4)")
	}
	for _, l := range senmlLabels {
		if asciiEqualFold(name, l) {
			return Reject(ReasonUnknownField, "SenML label "+strconv.Quote(truncate(string(name), 40))+" is not "+strconv.Quote(l)+" (labels are case-sensitive)")
		}
	}
	for _, e := range *ext {
		if bytes.Equal(e, name) {
			return Reject(ReasonDuplicateKey, "member "+strconv.Quote(truncate(string(name), 40))+" twice")
		}
	}
	*ext = append(*ext, name)
	if c := s.ws(); c == '{' || c == '[' {
		return Reject(ReasonBadJSON, "SenML extension "+strconv.Quote(truncate(string(name), 40))+" must be a string, number, boolean or null, got "+s.what())
	}
	_, err := s.scalar()
	return err
}

// senmlName resolves base name + name to a sensor kind or "seq" for station.
// hasBN says a base name was given (possibly empty): it must then be exactly
// "{station}:" or "{station}/".
func senmlName(station, bn string, hasBN bool, n string) (string, error) {
	if hasBN && (len(bn) != len(station)+1 || bn[:len(station)] != station || (bn[len(station)] != ':' && bn[len(station)] != '/')) {
		return "", Reject(ReasonStationMismatch, fmt.Sprintf("SenML base name %s must be %q or %q", strconv.Quote(truncate(bn, 80)), station+":", station+"/"))
	}
	full := bn + n
	i := strings.IndexAny(full, ":/")
	if i < 0 {
		return full, nil
	}
	if full[:i] != station {
		return "", Reject(ReasonStationMismatch, fmt.Sprintf("SenML name %s, topic station %s", strconv.Quote(truncate(full, 80)), station))
	}
	return full[i+1:], nil
}

// senmlTime resolves a SenML time (seconds) to a UTC time truncated to the
// millisecond. The error is a *RejectError with ReasonBadTimestamp.
func senmlTime(secs float64, now time.Time) (time.Time, error) {
	var ts time.Time
	switch {
	case math.IsNaN(secs) || math.IsInf(secs, 0):
		return time.Time{}, Reject(ReasonBadTimestamp, "time is not finite")
	case math.Abs(secs) < senmlRelative:
		ts = now.Add(time.Duration(secs * float64(time.Second)))
	case secs < 0:
		return time.Time{}, Reject(ReasonBadTimestamp, "negative absolute time")
	case secs >= senmlMaxAbs:
		return time.Time{}, Reject(ReasonBadTimestamp, "time out of range")
	default:
		ts = time.UnixMilli(int64(secs * 1e3))
	}
	ts = ts.UTC().Truncate(time.Millisecond)
	if err := checkTSRange(ts); err != nil {
		return time.Time{}, err
	}
	return ts, nil
}

// senmlUnit maps SenML unit symbols (RFC 8428 and RFC 8798 secondary units)
// to ours: relative humidity and percent units collapse to "%".
func senmlUnit(u string) string {
	switch u {
	case "%RH", "%EL":
		return "%"
	}
	return u
}

// asciiEqualFold reports whether a and b are equal under ASCII case folding
// only (bytes.EqualFold would also fold e.g. U+017F "ſ" to "s", which a
// JSON Schema pattern such as [sS] does not).
func asciiEqualFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y || x < 'a' || x > 'z' {
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}
