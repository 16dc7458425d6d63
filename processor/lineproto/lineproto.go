package lineproto

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Measurements written by the processor.
const (
	MeasReading = "reading"
	MeasDevice  = "device"
	MeasAlert   = "alert"
	MeasNotice  = "notice"
)

// ErrNonFinite reports that a NaN or Inf field was dropped.
var ErrNonFinite = errors.New("lineproto: non-finite value dropped")

// StationTags are the registry tags of a station.
type StationTags struct {
	Station, District, Basin string
}

// TagsOf returns the tags of a registry station (or just the id if unknown).
func TagsOf(reg *schemas.Registry, id string) StationTags {
	return TagsOfStation(reg.Lookup(id), id)
}

// TagsOfStation returns the tags of registry station s, looked up by id
// (nil: unknown, just the id).
func TagsOfStation(s *schemas.Station, id string) StationTags {
	if s != nil {
		return StationTags{Station: s.ID, District: s.District, Basin: s.Basin}
	}
	return StationTags{Station: id}
}

// AppendReading appends one `reading` line per measurement of rec:
//
//	reading,basin=B,district=D,sensor=S,station=ID value=8.42,seq=1024i,quality=1i,late=false <ms>
//
// quality has one flag per rec.Readings entry (missing entries mean 2, not
// evaluated). Non-finite values are skipped and ErrNonFinite returned after
// the rest are appended.
func AppendReading(b []byte, t StationTags, rec *schemas.Record, quality []int, late bool) ([]byte, error) {
	var err error
	ts := rec.TS.UnixMilli()
	for i, m := range rec.Readings {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			err = ErrNonFinite
			continue
		}
		q := 2
		if i < len(quality) {
			q = quality[i]
		}
		b = append(b, MeasReading...)
		b = appendTag(b, "basin", t.Basin)
		b = appendTag(b, "district", t.District)
		b = appendTag(b, "sensor", string(m.Sensor))
		b = appendTag(b, "station", t.Station)
		b = append(b, " value="...)
		b = strconv.AppendFloat(b, m.Value, 'g', -1, 64)
		b = append(b, ",seq="...)
		b = appendSeq(b, rec.Seq)
		b = append(b, "i,quality="...)
		b = strconv.AppendInt(b, int64(q), 10)
		b = append(b, "i,late="...)
		b = strconv.AppendBool(b, late)
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, '\n')
	}
	if rec.Battery != nil || rec.RSSI != nil {
		n := len(b)
		b = append(b, MeasDevice...)
		b = appendTag(b, "basin", t.Basin)
		b = appendTag(b, "district", t.District)
		b = appendTag(b, "station", t.Station)
		sep := byte(' ')
		if rec.Battery != nil && (math.IsNaN(*rec.Battery) || math.IsInf(*rec.Battery, 0)) {
			err = ErrNonFinite
		} else if rec.Battery != nil {
			b = append(b, sep)
			b = append(b, "battery="...)
			b = strconv.AppendFloat(b, *rec.Battery, 'g', -1, 64)
			sep = ','
		}
		if rec.RSSI != nil {
			b = append(b, sep)
			b = append(b, "rssi="...)
			b = strconv.AppendInt(b, int64(*rec.RSSI), 10)
			b = append(b, 'i')
			sep = ','
		}
		if sep == ' ' { // nothing finite to write
			b = b[:n]
		} else {
			b = append(b, ",seq="...)
			b = appendSeq(b, rec.Seq)
			b = append(b, "i "...)
			b = strconv.AppendInt(b, ts, 10)
			b = append(b, '\n')
		}
	}
	return b, err
}

// AppendAlert appends one `alert` line for an alert event:
//
//	alert,basin=B,district=D,kind=fired,rule=R,sensor=S,severity=Severe,station=ID id="…",event_id="…",level=2i,value=…,threshold=…,started_at=<ms>i <at ms>
func AppendAlert(b []byte, e *schemas.AlertEvent) []byte {
	b = append(b, MeasAlert...)
	b = appendTag(b, "basin", e.Basin)
	b = appendTag(b, "district", e.District)
	b = appendTag(b, "kind", string(e.Kind))
	b = appendTag(b, "rule", e.Rule)
	b = appendTag(b, "sensor", string(e.Sensor))
	b = appendTag(b, "severity", string(e.Severity))
	b = appendTag(b, "station", e.Station)
	b = append(b, " id="...)
	b = appendString(b, e.ID)
	b = append(b, ",event_id="...)
	b = appendString(b, e.EventID)
	b = append(b, ",level="...)
	b = strconv.AppendInt(b, int64(e.Level), 10)
	b = append(b, 'i')
	if !math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) {
		b = append(b, ",value="...)
		b = strconv.AppendFloat(b, e.Value, 'g', -1, 64)
	}
	if !math.IsNaN(e.Threshold) && !math.IsInf(e.Threshold, 0) {
		b = append(b, ",threshold="...)
		b = strconv.AppendFloat(b, e.Threshold, 'g', -1, 64)
	}
	b = append(b, ",started_at="...)
	b = strconv.AppendInt(b, e.StartedAt.UnixMilli(), 10)
	b = append(b, 'i')
	if e.Message != "" {
		b = append(b, ",message="...)
		b = appendString(b, e.Message)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.At.UnixMilli(), 10)
	return append(b, '\n')
}

// AppendNotice appends one `notice` line (operator notices such as a seq gap).
func AppendNotice(b []byte, t StationTags, kind, detail string, at time.Time) []byte {
	b = append(b, MeasNotice...)
	b = appendTag(b, "basin", t.Basin)
	b = appendTag(b, "district", t.District)
	b = appendTag(b, "kind", kind)
	b = appendTag(b, "station", t.Station)
	b = append(b, " detail="...)
	b = appendString(b, detail)
	b = append(b, ' ')
	b = strconv.AppendInt(b, at.UnixMilli(), 10)
	return append(b, '\n')
}

// appendSeq appends seq as a line-protocol integer. Those are signed 64-bit:
// InfluxDB refuses the whole request for a larger value, so a seq above
// MaxInt64 is written as its two's-complement int64 (still one value per seq).
func appendSeq(b []byte, seq uint64) []byte {
	return strconv.AppendInt(b, int64(seq), 10)
}

// appendTag appends ",k=v" with v escaped; an empty v is omitted (InfluxDB
// does not store empty tags).
//
// InfluxDB treats a byte as escaped when the byte before it is a backslash
// (there is no escaped backslash in tags), so a backslash is written as is,
// except at the end of v, where it would escape the separator after the
// value and break the line: that one is replaced.
func appendTag(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',')
	b = append(b, k...)
	b = append(b, '=')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case ',', '=', ' ':
			b = append(b, '\\', c)
		case '\\':
			if i == len(v)-1 {
				c = '_'
			}
			b = append(b, c)
		case '\n', '\r', '\t', '\f': // whitespace some line-protocol parsers split on
			b = append(b, '_')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendString appends a double-quoted field string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n', '\r', '\f':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
