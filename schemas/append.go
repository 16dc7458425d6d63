package schemas

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON of r to dst: byte for byte what
// json.Marshal(r) writes (TestAppendJSONIsMarshal, FuzzAppendJSON), at a
// fraction of its cost; the collector encodes every record with it. It
// fails, as json.Marshal does, on a value JSON cannot hold (a NaN or
// infinite number, a time outside the years 0-9999).
func (r *Record) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(r.V), 10)
	dst = append(dst, `,"station":`...)
	dst = appendJSONString(dst, r.Station)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	if r.Boot != 0 {
		dst = append(dst, `,"boot":`...)
		dst = strconv.AppendUint(dst, uint64(r.Boot), 10)
	}
	var err error
	dst = append(dst, `,"ts":`...)
	if dst, err = appendJSONTime(dst, r.TS); err != nil {
		return dst, err
	}
	dst = append(dst, `,"readings":`...)
	if r.Readings == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Readings {
			m := &r.Readings[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"sensor":`...)
			dst = appendJSONString(dst, string(m.Sensor))
			dst = append(dst, `,"value":`...)
			if dst, err = appendJSONFloat(dst, m.Value); err != nil {
				return dst, err
			}
			dst = append(dst, `,"unit":`...)
			dst = appendJSONString(dst, m.Unit)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if r.Battery != nil {
		dst = append(dst, `,"battery":`...)
		if dst, err = appendJSONFloat(dst, *r.Battery); err != nil {
			return dst, err
		}
	}
	if r.RSSI != nil {
		dst = append(dst, `,"rssi":`...)
		dst = strconv.AppendInt(dst, int64(*r.RSSI), 10)
	}
	dst = append(dst, `,"received_at":`...)
	if dst, err = appendJSONTime(dst, r.ReceivedAt); err != nil {
		return dst, err
	}
	if r.Format != "" {
		dst = append(dst, `,"format":`...)
		dst = appendJSONString(dst, r.Format)
	}
	return append(dst, '}'), nil
}

// errNotJSONNumber: json.Marshal refuses NaN and the infinities.
var errNotJSONNumber = errors.New("schemas: NaN or infinite number has no JSON form")

// appendJSONFloat is encoding/json's float64 form (ES6 number to string).
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errNotJSONNumber
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7, as encoding/json writes it
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds).
func appendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 || t.Year() < 0 || t.Year() > 9999 {
		b, err := t.MarshalJSON() // its own error, as json.Marshal reports
		return append(dst, b...), err
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// appendJSONString is encoding/json's string form. Valid UTF-8 without
// control, quote, backslash or HTML-sensitive characters (every id, unit
// and format, and most messages: Vietnamese included) is copied as it is;
// anything else (escapes, U+2028/U+2029, invalid UTF-8) goes through
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || r == '\u2028' || r == '\u2029' {
				return appendJSONStringSlow(dst, s)
			}
			i += n
			continue
		}
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendJSONStringSlow(dst, s)
		}
		i++
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendJSONStringSlow(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// AppendJSON appends the JSON of e to dst: byte for byte what
// json.Marshal(e) writes (TestAlertEventAppendJSONIsMarshal,
// FuzzAlertEventAppendJSON), at a fraction of its cost; the processor
// encodes every alert event with it. It fails, as json.Marshal does, on a
// value JSON cannot hold.
func (e *AlertEvent) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	str := func(key, v string, omitEmpty bool) {
		if omitEmpty && v == "" {
			return
		}
		dst = append(dst, key...)
		dst = appendJSONString(dst, v)
	}
	num := func(key string, v float64, omitEmpty bool) {
		if err != nil || (omitEmpty && v == 0) {
			return
		}
		dst = append(dst, key...)
		dst, err = appendJSONFloat(dst, v)
	}
	tm := func(key string, t time.Time) {
		if err != nil {
			return
		}
		dst = append(dst, key...)
		dst, err = appendJSONTime(dst, t)
	}
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(e.V), 10)
	str(`,"id":`, e.ID, false)
	str(`,"event_id":`, e.EventID, false)
	str(`,"kind":`, string(e.Kind), false)
	str(`,"station":`, e.Station, false)
	str(`,"sensor":`, string(e.Sensor), true)
	str(`,"rule":`, e.Rule, false)
	dst = append(dst, `,"level":`...)
	dst = strconv.AppendInt(dst, int64(e.Level), 10)
	str(`,"level_name":`, e.LevelName, true)
	str(`,"severity":`, string(e.Severity), false)
	num(`,"value":`, e.Value, false)
	num(`,"threshold":`, e.Threshold, false)
	str(`,"window":`, e.Window, true)
	tm(`,"started_at":`, e.StartedAt)
	tm(`,"at":`, e.At)
	if len(e.Readings) > 0 {
		dst = append(dst, `,"readings":[`...)
		for i := range e.Readings {
			r := &e.Readings[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"seq":`...)
			dst = strconv.AppendUint(dst, r.Seq, 10)
			tm(`,"ts":`, r.TS)
			num(`,"value":`, r.Value, false)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	str(`,"district":`, e.District, true)
	str(`,"basin":`, e.Basin, true)
	str(`,"message":`, e.Message, true)
	str(`,"level_name_vi":`, e.LevelNameVI, true)
	str(`,"level_name_en":`, e.LevelNameEN, true)
	if e.Beaufort != 0 {
		dst = append(dst, `,"beaufort":`...)
		dst = strconv.AppendInt(dst, int64(e.Beaufort), 10)
	}
	str(`,"colour":`, e.Colour, true)
	num(`,"time_to_next":`, e.TimeToNext, true)
	num(`,"time_to_failure":`, e.TimeToFailure, true)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}
