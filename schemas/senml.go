package schemas

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// senmlRec is one SenML (RFC 8428) JSON record. Only the fields below are
// read; other fields (vs, vb, vd, s, ut, ...) are ignored, and a record
// without a numeric v is rejected. Base fields are pointers so that an
// explicit zero (e.g. "bt":0) replaces an earlier base value, as RFC 8428
// requires.
type senmlRec struct {
	BN *string  `json:"bn"`
	BT *float64 `json:"bt"`
	BU *string  `json:"bu"`
	N  string   `json:"n"`
	U  string   `json:"u"`
	V  *float64 `json:"v"`
	T  float64  `json:"t"`
}

// senmlRelative is RFC 8428's bound: a resolved time below 2^28 seconds is
// relative to now.
const senmlRelative = 1 << 28

// senmlMaxAbs is the largest absolute SenML time accepted (seconds).
const senmlMaxAbs = maxTSUnix

// decodeSenML maps a SenML pack to Records.
//
// Mapping: the resolved name of each record (base name + name) is either a
// sensor kind or "seq", optionally prefixed by "{station}:" or
// "{station}/"; a prefix or base name naming another station is
// ReasonStationMismatch, and a base name must end in ':' or '/'. Records are
// grouped by resolved time (bt+t, seconds since the epoch; SenML relative
// times, |t| < 2^28, are relative to now; both are truncated to the
// millisecond); each group becomes one Record with Format "senml". A group
// whose "seq" record is absent takes its time in epoch milliseconds as seq.
// A "battery" record sets Record.Battery. A group with no sensor reading
// and no battery (e.g. a lone "seq") is ReasonMissingField.
func (d *Decoder) decodeSenML(st *Station, payload []byte, now time.Time) ([]Record, error) {
	var pack []senmlRec
	if err := json.Unmarshal(payload, &pack); err != nil {
		return nil, Reject(ReasonBadJSON, truncate(err.Error(), 200))
	}
	if len(pack) == 0 {
		return nil, Reject(ReasonEmpty, "empty SenML pack")
	}
	if d.Opts.MaxBatch > 0 && len(pack) > d.Opts.MaxBatch*8 {
		return nil, Reject(ReasonOversize, fmt.Sprintf("SenML pack of %d records > %d", len(pack), d.Opts.MaxBatch*8))
	}
	var bn, bu string
	var bt float64
	groups := map[int64]*Record{}
	for i, r := range pack {
		if r.BN != nil {
			bn = *r.BN
		}
		if r.BT != nil {
			bt = *r.BT
		}
		if r.BU != nil {
			bu = *r.BU
		}
		name, err := senmlName(st.ID, bn, r.N)
		if err != nil {
			return nil, err
		}
		if r.V == nil {
			return nil, Reject(ReasonMissingField, fmt.Sprintf("senml[%d].v", i))
		}
		ts, err := senmlTime(bt+r.T, now)
		if err != nil {
			return nil, Reject(ReasonBadTimestamp, fmt.Sprintf("senml[%d]: %s", i, err.(*RejectError).Detail))
		}
		if d.Opts.MaxFuture > 0 && ts.After(now.Add(d.Opts.MaxFuture)) {
			return nil, Reject(ReasonFutureTS, fmt.Sprintf("senml[%d] ts %s is %s ahead", i, ts.Format(time.RFC3339), ts.Sub(now).Round(time.Second)))
		}
		key := ts.UnixMilli()
		g := groups[key]
		if g == nil {
			g = &Record{V: RecordVersion, Station: st.ID, Seq: uint64(key), TS: ts, ReceivedAt: now.UTC(), Format: "senml", Readings: []Measurement{}}
			groups[key] = g
		}
		if name == "seq" {
			if *r.V < 0 || *r.V != math.Trunc(*r.V) || *r.V > 1<<53 {
				return nil, Reject(ReasonBadJSON, fmt.Sprintf("senml[%d]: seq must be an integer in [0, 2^53]", i))
			}
			g.Seq = uint64(*r.V)
			continue
		}
		unit := r.U
		if unit == "" {
			unit = bu
		}
		v, err := Normalize(Sensor(name), *r.V, senmlUnit(unit))
		if err != nil {
			re := err.(*RejectError)
			return nil, Reject(re.Reason, fmt.Sprintf("senml[%d]: %s", i, re.Detail))
		}
		if Sensor(name) == Battery {
			b := v
			g.Battery = &b
			continue
		}
		g.Readings = append(g.Readings, Measurement{Sensor: Sensor(name), Value: v, Unit: Specs[Sensor(name)].Unit})
	}
	keys := make([]int64, 0, len(groups))
	for k, g := range groups {
		if len(g.Readings) == 0 && g.Battery == nil {
			return nil, Reject(ReasonMissingField, "senml: no reading at "+g.TS.Format(time.RFC3339Nano))
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := make([]Record, 0, len(keys))
	for _, k := range keys {
		out = append(out, *groups[k])
	}
	return out, nil
}

// senmlName resolves base name + name to a sensor kind or "seq" for station.
func senmlName(station, bn, n string) (string, error) {
	full := bn + n
	i := strings.IndexAny(full, ":/")
	if i < 0 {
		if bn != "" {
			return "", Reject(ReasonStationMismatch, fmt.Sprintf("SenML base name %s must be %q or %q", strconv.Quote(truncate(bn, 80)), station+":", station+"/"))
		}
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
