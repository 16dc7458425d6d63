package processor

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/resilience-project/resilience/schemas"
)

// fastRecord reads a record in the exact form the collectors write it
// (encoding/json's output for schemas.Record: its fields in order, no
// whitespace, strings without escapes). It reports false, leaving rec
// partly set, for anything else; decode then reads the message with the
// general decoder. What it accepts it reads exactly as the general
// decoder does (FuzzDecode checks both against encoding/json).
func fastRecord(b []byte, rec *schemas.Record) bool {
	c := cursor{b: b}
	if !c.lit(`{"v":`) || !c.int(&rec.V) || !c.lit(`,"station":`) || !c.str(&rec.Station) ||
		!c.lit(`,"seq":`) || !c.uint64(&rec.Seq) {
		return false
	}
	if c.lit(`,"boot":`) {
		var boot uint64
		if !c.uint64(&boot) || boot > 1<<32-1 {
			return false
		}
		rec.Boot = uint32(boot)
	}
	if !c.lit(`,"ts":`) || !c.time(rec.TS.UnmarshalJSON) || !c.lit(`,"readings":`) || !c.readings(rec) {
		return false
	}
	if c.lit(`,"battery":`) {
		var v float64
		if !c.float(&v) {
			return false
		}
		rec.Battery = &v
	}
	if c.lit(`,"rssi":`) {
		var v int
		if !c.int(&v) {
			return false
		}
		rec.RSSI = &v
	}
	if !c.lit(`,"received_at":`) || !c.time(rec.ReceivedAt.UnmarshalJSON) {
		return false
	}
	if c.lit(`,"format":`) && !c.str(&rec.Format) {
		return false
	}
	return c.lit("}") && c.i == len(c.b)
}

// cursor reads b from i.
type cursor struct {
	b []byte
	i int
}

// lit consumes s if b continues with it.
func (c *cursor) lit(s string) bool {
	if len(c.b)-c.i < len(s) || string(c.b[c.i:c.i+len(s)]) != s {
		return false
	}
	c.i += len(s)
	return true
}

// rawString returns the bytes of a string without escapes or control
// characters, in valid UTF-8, and consumes it with its quotes.
func (c *cursor) rawString() ([]byte, bool) {
	if c.i >= len(c.b) || c.b[c.i] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(c.b[c.i+1:], '"')
	if end < 0 {
		return nil, false
	}
	s := c.b[c.i+1 : c.i+1+end]
	for _, ch := range s {
		if ch < 0x20 || ch == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, false
	}
	c.i += end + 2
	return s, true
}

func (c *cursor) str(dst *string) bool {
	s, ok := c.rawString()
	if ok {
		*dst = string(s)
	}
	return ok
}

// time hands a string, quotes included, to unmarshal (time.Time's
// UnmarshalJSON, as encoding/json does).
func (c *cursor) time(unmarshal func([]byte) error) bool {
	start := c.i
	if _, ok := c.rawString(); !ok {
		return false
	}
	return unmarshal(c.b[start:c.i]) == nil
}

// number consumes a JSON number (RFC 8259 grammar) and returns its text.
func (c *cursor) number() ([]byte, bool) {
	start, b := c.i, c.b
	i := c.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	c.i = i
	return b[start:i], true
}

func (c *cursor) float(dst *float64) bool {
	s, ok := c.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(string(s), 64)
	*dst = v
	return err == nil
}

func (c *cursor) int(dst *int) bool {
	s, ok := c.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseInt(string(s), 10, 0)
	*dst = int(v)
	return err == nil
}

func (c *cursor) uint64(dst *uint64) bool {
	s, ok := c.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseUint(string(s), 10, 64)
	*dst = v
	return err == nil
}

// readings reads null or an array of measurements.
func (c *cursor) readings(rec *schemas.Record) bool {
	if c.lit("null") {
		return true
	}
	if !c.lit("[") {
		return false
	}
	rec.Readings = make([]schemas.Measurement, 0, 4)
	if c.lit("]") {
		return true
	}
	for {
		var m schemas.Measurement
		if !c.lit(`{"sensor":`) {
			return false
		}
		sensor, ok := c.rawString()
		if !ok || !c.lit(`,"value":`) || !c.float(&m.Value) || !c.lit(`,"unit":`) {
			return false
		}
		unit, ok := c.rawString()
		if !ok || !c.lit("}") {
			return false
		}
		m.Sensor, m.Unit = schemas.Sensor(canonical(sensor)), canonical(unit)
		rec.Readings = append(rec.Readings, m)
		if c.lit("]") {
			return true
		}
		if !c.lit(",") {
			return false
		}
	}
}

// canonical returns the sensor names and canonical units as constants, so
// that the common strings cost no allocation; others are copied.
func canonical(b []byte) string {
	switch string(b) {
	case "water_level":
		return "water_level"
	case "rainfall":
		return "rainfall"
	case "flood_depth":
		return "flood_depth"
	case "tilt":
		return "tilt"
	case "wind_speed":
		return "wind_speed"
	case "wind_gust":
		return "wind_gust"
	case "soil_moisture":
		return "soil_moisture"
	case "battery":
		return "battery"
	case "m":
		return "m"
	case "mm":
		return "mm"
	case "cm":
		return "cm"
	case "deg":
		return "deg"
	case "m/s":
		return "m/s"
	case "%":
		return "%"
	case "V":
		return "V"
	}
	return string(b)
}
