package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DecodeOptions bound what the decoder accepts.
type DecodeOptions struct {
	// MaxPayload is the largest payload in bytes; larger is ReasonOversize.
	MaxPayload int
	// MaxFuture is how far in the future a timestamp may be (clock skew).
	MaxFuture time.Duration
	// MaxBatch is the most messages one JSON array may hold.
	MaxBatch int
}

// DefaultDecodeOptions are the collector defaults.
func DefaultDecodeOptions() DecodeOptions {
	return DecodeOptions{MaxPayload: 64 << 10, MaxFuture: 5 * time.Minute, MaxBatch: 1000}
}

// Decoder turns device payloads into normalised Records.
//
// Contract: Decode never panics, never returns a Record that breaks the
// schema (bad station id, unknown station, non-finite or out-of-bounds value,
// future timestamp), and returns either records or a *RejectError, never
// both. A batch (JSON array) is accepted or rejected whole, so that the
// device's one MQTT message maps to one delivery decision.
type Decoder struct {
	Registry *Registry
	Opts     DecodeOptions
}

// deviceMsg is the v1 device reading message as parsed, before the
// semantic checks. The json tags name the wire fields (the schema test
// compares them with reading-v1.schema.json); decoding does not use
// encoding/json (see parseV1).
type deviceMsg struct {
	V        *int            `json:"v"`
	Station  string          `json:"station"`
	Seq      *uint64         `json:"seq"`
	Boot     uint32          `json:"boot"`
	TS       []byte          `json:"ts"` // raw: a string with its quotes, a number or a literal; nil if absent or null
	Readings []deviceReading `json:"readings"`
	Battery  []byte          `json:"battery"` // raw number text; nil if absent
	RSSI     *int            `json:"rssi"`
}

// deviceReading is one element of a v1 message's readings.
type deviceReading struct {
	Sensor    Sensor `json:"sensor"`
	HasSensor bool   `json:"-"`
	Value     []byte `json:"value"` // raw scalar; nil if absent
	Unit      string `json:"unit"`
}

// RSSI bounds (dBm, inclusive). Received signal strength is negative;
// below -200 dBm no radio decodes anything, so such a value is a device bug.
const (
	MinRSSI = -200
	MaxRSSI = 0
)

// Decode decodes payload received on topic at now. Checks run in this
// order, the first failure deciding the Reason:
//
//  1. payload size (oversize), topic shape and station id (bad_topic,
//     bad_station_id), registry (unknown_station), UTF-8 (bad_utf8),
//     emptiness (empty);
//  2. one strict pass over the JSON (see parseV1 and parseSenML): syntax
//     and types (bad_json; nesting where the format has none is bad_json at
//     once, never followed), a member name twice in one object
//     (duplicate_key), a member name the format does not define, compared
//     exactly, so "Station" is not "station" (unknown_field), batch length
//     (oversize, counted while scanning);
//  3. per message: v, station, seq, ts (missing_field, bad_version,
//     bad_station_id, station_mismatch, bad_timestamp, future_timestamp),
//     then each reading: sensor (missing_field, unknown_sensor,
//     undeclared_sensor, duplicate_sensor), value (missing_field, bad_json,
//     not_finite), unit and bounds (bad_unit, out_of_bounds); then battery
//     (not_finite, out_of_bounds) and rssi (out_of_bounds outside
//     [MinRSSI, MaxRSSI]);
//  4. across a batch: the same sensor at the same millisecond in two
//     messages (duplicate_sensor: InfluxDB would keep only one).
//
// A message is accepted or rejected whole: one reading of a sensor the
// station does not declare (Station.Sensors) rejects the message even if
// its other readings are fine, so that the device's bug is visible in the
// dead letters instead of half its data silently missing (and a rain gauge
// can never raise a landslide alert). The battery member is device health,
// not a sensor, and needs no declaration; a "battery" reading in readings
// does. The topic is "stations/{id}/readings" (v1 JSON) or
// "stations/{id}/senml" (SenML, see decodeSenML).
func (d *Decoder) Decode(topic string, payload []byte, now time.Time) ([]Record, error) {
	if d.Opts.MaxPayload > 0 && len(payload) > d.Opts.MaxPayload {
		return nil, Reject(ReasonOversize, fmt.Sprintf("%d bytes > %d", len(payload), d.Opts.MaxPayload))
	}
	station, kind := ParseTopic(topic)
	switch kind {
	case TopicReadings, TopicSenML:
	default:
		return nil, rejectTopic(topic)
	}
	st := d.Registry.Lookup(station)
	if st == nil {
		return nil, Reject(ReasonUnknownStation, "station "+station)
	}
	if !utf8.Valid(payload) {
		return nil, Reject(ReasonBadUTF8, "")
	}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return nil, Reject(ReasonEmpty, "")
	}
	if kind == TopicSenML {
		return d.decodeSenML(st, trimmed, now)
	}
	msgs, batch, err := parseV1(trimmed, d.Opts.MaxBatch)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(msgs))
	for i := range msgs {
		r, err := d.fromDevice(st, &msgs[i], now)
		if err != nil {
			if batch {
				return nil, atIndex(err, "batch", i)
			}
			return nil, err
		}
		out = append(out, r)
	}
	if err := checkBatchDuplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// atIndex prefixes a rejection's detail with the element it is about, e.g.
// "batch[3]: ".
func atIndex(err error, what string, i int) error {
	var re *RejectError
	if !errors.As(err, &re) {
		return err
	}
	return &RejectError{Reason: re.Reason, Detail: fmt.Sprintf("%s[%d]: %s", what, i, re.Detail)}
}

// parseV1 parses a v1 payload (one message object, or an array of 1 to
// maxBatch of them; maxBatch <= 0 means no limit) in one pass. Member names
// are matched exactly and at most once per object; anything the format
// does not define is rejected. A null message is an empty one (rejected
// later as missing v). batch reports whether the payload was an array.
func parseV1(payload []byte, maxBatch int) (msgs []deviceMsg, batch bool, err error) {
	s := &scanner{data: payload}
	switch s.ws() {
	case '[':
		batch = true
		s.pos++
		for i := 0; ; i++ {
			more, err := s.elem(i == 0)
			if err != nil {
				return nil, true, err
			}
			if !more {
				break
			}
			if maxBatch > 0 && i >= maxBatch {
				return nil, true, Reject(ReasonOversize, fmt.Sprintf("batch of more than %d messages", maxBatch))
			}
			msgs = append(msgs, deviceMsg{})
			if err := parseMessage(s, &msgs[i]); err != nil {
				return nil, true, atIndex(err, "batch", i)
			}
		}
		if len(msgs) == 0 {
			return nil, true, Reject(ReasonEmpty, "empty batch")
		}
	case '{', 'n':
		msgs = make([]deviceMsg, 1)
		if err := parseMessage(s, &msgs[0]); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, s.errf("want a message object or an array of them, got %s", s.what())
	}
	if err := s.end(); err != nil {
		return nil, batch, err
	}
	return msgs, batch, nil
}

// Member bits of a v1 message, to find duplicates.
const (
	mV = 1 << iota
	mStation
	mSeq
	mBoot
	mTS
	mReadings
	mBattery
	mRSSI
)

// seen marks bit in *set and rejects a member name met twice.
func seen(set *uint32, bit uint32, name []byte) error {
	if *set&bit != 0 {
		return Reject(ReasonDuplicateKey, "member "+strconv.Quote(string(name))+" twice")
	}
	*set |= bit
	return nil
}

// unknownField rejects a member name the format does not define.
func unknownField(name []byte) error {
	return Reject(ReasonUnknownField, "unknown member "+strconv.Quote(truncate(string(name), 40))+" (names are case-sensitive)")
}

// parseMessage parses one v1 message object (or null) into m.
func parseMessage(s *scanner, m *deviceMsg) error {
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return Reject(ReasonBadJSON, "a message must be a JSON object, got "+s.what())
	}
	s.pos++
	var set uint32
	for first := true; ; first = false {
		name, more, err := s.member(first)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		switch string(name) {
		case "v":
			if err = seen(&set, mV, name); err == nil && !s.null() {
				var n int64
				n, err = intMember(s, "v", 0, math.MaxInt32)
				v := int(n)
				m.V = &v
			}
		case "station":
			if err = seen(&set, mStation, name); err == nil && !s.null() {
				m.Station, err = stringMember(s, "station")
			}
		case "seq":
			if err = seen(&set, mSeq, name); err == nil && !s.null() {
				var n uint64
				n, err = uintMember(s, "seq", 64)
				m.Seq = &n
			}
		case "boot":
			if err = seen(&set, mBoot, name); err == nil {
				var n uint64
				n, err = uintMember(s, "boot", 32)
				m.Boot = uint32(n)
			}
		case "ts":
			if err = seen(&set, mTS, name); err == nil && !s.null() {
				if c := s.ws(); c == '{' || c == '[' {
					err = Reject(ReasonBadTimestamp, "ts must be an RFC 3339 string or epoch milliseconds, got "+s.what())
				} else {
					m.TS, err = s.scalar()
				}
			}
		case "readings":
			if err = seen(&set, mReadings, name); err == nil {
				m.Readings, err = parseReadings(s)
			}
		case "battery":
			if err = seen(&set, mBattery, name); err == nil {
				m.Battery, err = numberMember(s, "battery")
			}
		case "rssi":
			if err = seen(&set, mRSSI, name); err == nil {
				var n int64
				n, err = intMember(s, "rssi", math.MinInt32, math.MaxInt32)
				v := int(n)
				m.RSSI = &v
			}
		default:
			err = unknownField(name)
		}
		if err != nil {
			return err
		}
	}
}

// parseReadings parses a message's readings array.
func parseReadings(s *scanner) ([]deviceReading, error) {
	if s.ws() != '[' {
		return nil, Reject(ReasonBadJSON, "readings must be an array, got "+s.what())
	}
	s.pos++
	out := make([]deviceReading, 0, 4)
	for i := 0; ; i++ {
		more, err := s.elem(i == 0)
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		out = append(out, deviceReading{})
		if err := parseReading(s, &out[i]); err != nil {
			return nil, atIndex(err, "readings", i)
		}
	}
}

// parseReading parses one reading object into r.
func parseReading(s *scanner, r *deviceReading) error {
	if s.ws() != '{' {
		return Reject(ReasonBadJSON, "a reading must be a JSON object, got "+s.what())
	}
	s.pos++
	var set uint32
	for first := true; ; first = false {
		name, more, err := s.member(first)
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		switch string(name) {
		case "sensor":
			if err = seen(&set, 1, name); err == nil {
				var str string
				str, err = stringMember(s, "sensor")
				r.Sensor, r.HasSensor = Sensor(str), true
			}
		case "value":
			if err = seen(&set, 2, name); err == nil {
				if c := s.ws(); c == '{' || c == '[' {
					err = Reject(ReasonBadJSON, "value must be a number, got "+s.what())
				} else {
					r.Value, err = s.scalar()
				}
			}
		case "unit":
			if err = seen(&set, 4, name); err == nil {
				r.Unit, err = stringMember(s, "unit")
				if err == nil && r.Unit == "" {
					err = Reject(ReasonBadUnit, "empty unit (omit unit for the canonical one)")
				}
			}
		default:
			err = unknownField(name)
		}
		if err != nil {
			return err
		}
	}
}

// stringMember reads a string member value; another type is ReasonBadJSON.
func stringMember(s *scanner, name string) (string, error) {
	if s.ws() != '"' {
		return "", Reject(ReasonBadJSON, name+" must be a string, got "+s.what())
	}
	b, err := s.str()
	return string(b), err
}

// numberMember reads a number member value and returns its text; another
// type is ReasonBadJSON.
func numberMember(s *scanner, name string) ([]byte, error) {
	if c := s.ws(); c != '-' && (c < '0' || c > '9') {
		return nil, Reject(ReasonBadJSON, name+" must be a number, got "+s.what())
	}
	return s.number()
}

// uintMember reads an unsigned integer of the given bit size.
func uintMember(s *scanner, name string, bits int) (uint64, error) {
	text, err := numberMember(s, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(text), 10, bits)
	if err != nil {
		return 0, Reject(ReasonBadJSON, fmt.Sprintf("%s must be an integer in [0, 2^%d), got %s", name, bits, truncate(string(text), 40)))
	}
	return n, nil
}

// intMember reads an integer in [lo, hi]; a non-integer is ReasonBadJSON,
// an integer outside the range ReasonOutOfBounds.
func intMember(s *scanner, name string, lo, hi int64) (int64, error) {
	text, err := numberMember(s, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, Reject(ReasonOutOfBounds, fmt.Sprintf("%s %s out of range", name, truncate(string(text), 40)))
	}
	if err != nil {
		return 0, Reject(ReasonBadJSON, fmt.Sprintf("%s must be an integer, got %s", name, truncate(string(text), 40)))
	}
	if n < lo || n > hi {
		return 0, Reject(ReasonOutOfBounds, fmt.Sprintf("%s %d out of range", name, n))
	}
	return n, nil
}

// checkBatchDuplicates rejects a batch in which two messages carry the
// same sensor at the same millisecond: both would become the same InfluxDB
// point (measurement, tags, timestamp) and the second would overwrite the
// first. Two messages with the same (boot, seq) are a repeat, which the
// processor drops as a duplicate, and are let through.
func checkBatchDuplicates(recs []Record) error {
	if len(recs) < 2 {
		return nil
	}
	type key struct {
		s  Sensor
		ms int64
	}
	first := make(map[key]int, len(recs)*2)
	for i := range recs {
		ms := recs[i].TS.UnixMilli()
		for _, m := range recs[i].Readings {
			k := key{m.Sensor, ms}
			if j, dup := first[k]; dup && j != i && (recs[j].Boot != recs[i].Boot || recs[j].Seq != recs[i].Seq) {
				return Reject(ReasonDuplicateSensor, fmt.Sprintf("batch[%d]: %s at %s also in batch[%d]", i, m.Sensor, recs[i].TS.Format(time.RFC3339Nano), j))
			}
			first[k] = i
		}
	}
	return nil
}

// rejectTopic explains why topic is not a device data topic. A topic of the
// right shape whose station level is not a valid id is ReasonBadStationID
// (this is what stops MQTT wildcards, control characters and over-long ids
// from becoming Kafka keys or InfluxDB tags); anything else is ReasonBadTopic.
func rejectTopic(topic string) error {
	parts := strings.Split(topic, "/")
	if len(parts) == 3 && parts[0] == "stations" && (parts[2] == "readings" || parts[2] == "senml") && !ValidStationID(parts[1]) {
		return Reject(ReasonBadStationID, "topic "+strconv.Quote(truncate(topic, 100)))
	}
	return Reject(ReasonBadTopic, "topic "+strconv.Quote(truncate(topic, 100)))
}

func (d *Decoder) fromDevice(st *Station, m *deviceMsg, now time.Time) (Record, error) {
	if m.V == nil {
		return Record{}, Reject(ReasonMissingField, "v")
	}
	if *m.V != 1 {
		return Record{}, Reject(ReasonBadVersion, fmt.Sprintf("v=%d", *m.V))
	}
	if m.Station != st.ID {
		if m.Station == "" {
			return Record{}, Reject(ReasonMissingField, "station")
		}
		if !ValidStationID(m.Station) {
			return Record{}, Reject(ReasonBadStationID, "payload station "+strconv.Quote(truncate(m.Station, 80)))
		}
		return Record{}, Reject(ReasonStationMismatch, fmt.Sprintf("payload %s, topic %s", m.Station, st.ID))
	}
	if m.Seq == nil {
		return Record{}, Reject(ReasonMissingField, "seq")
	}
	if *m.Seq > MaxSeq {
		return Record{}, Reject(ReasonOutOfBounds, "seq above 2^53")
	}
	ts, err := parseTS(m.TS)
	if err != nil {
		return Record{}, err
	}
	if d.Opts.MaxFuture > 0 && ts.After(now.Add(d.Opts.MaxFuture)) {
		return Record{}, Reject(ReasonFutureTS, fmt.Sprintf("ts %s is %s ahead", ts.Format(time.RFC3339), ts.Sub(now).Round(time.Second)))
	}
	if len(m.Readings) == 0 && m.Battery == nil {
		return Record{}, Reject(ReasonMissingField, "readings")
	}
	r := Record{V: RecordVersion, Station: st.ID, Seq: *m.Seq, Boot: m.Boot, TS: ts, ReceivedAt: now.UTC(), Format: "v1",
		Readings: make([]Measurement, 0, len(m.Readings))}
	for i := range m.Readings {
		mm, err := reading(st, r.Readings, &m.Readings[i])
		if err != nil {
			return Record{}, atIndex(err, "readings", i)
		}
		r.Readings = append(r.Readings, mm)
	}
	if m.Battery != nil {
		v, err := parseNumber(m.Battery, "battery")
		if err != nil {
			return Record{}, err
		}
		b, err := Normalize(Battery, v, "V")
		if err != nil {
			return Record{}, err
		}
		r.Battery = &b
	}
	if m.RSSI != nil {
		if *m.RSSI < MinRSSI || *m.RSSI > MaxRSSI {
			return Record{}, Reject(ReasonOutOfBounds, fmt.Sprintf("rssi %d dBm outside [%d, %d]", *m.RSSI, MinRSSI, MaxRSSI))
		}
		v := *m.RSSI
		r.RSSI = &v
	}
	return r, nil
}

// reading checks one v1 reading against the station and the readings
// before it (prev) and returns it in the canonical unit. The sensor is
// checked before the value: unknown (unknown_sensor), not declared by the
// station (undeclared_sensor), already in this message (duplicate_sensor).
func reading(st *Station, prev []Measurement, x *deviceReading) (Measurement, error) {
	if !x.HasSensor {
		return Measurement{}, Reject(ReasonMissingField, "sensor")
	}
	if err := checkSensor(st, x.Sensor); err != nil {
		return Measurement{}, err
	}
	for _, p := range prev {
		if p.Sensor == x.Sensor {
			return Measurement{}, Reject(ReasonDuplicateSensor, fmt.Sprintf("sensor %s twice in one message", x.Sensor))
		}
	}
	v, err := parseNumber(x.Value, "value")
	if err != nil {
		return Measurement{}, err
	}
	cv, err := Normalize(x.Sensor, v, x.Unit)
	if err != nil {
		return Measurement{}, err
	}
	return Measurement{Sensor: x.Sensor, Value: cv, Unit: Specs[x.Sensor].Unit}, nil
}

// checkSensor rejects a sensor kind that does not exist (ReasonUnknownSensor)
// or that station st does not declare (ReasonUndeclaredSensor).
func checkSensor(st *Station, k Sensor) error {
	if _, ok := Specs[k]; !ok {
		return Reject(ReasonUnknownSensor, "sensor "+strconv.Quote(truncate(string(k), 40)))
	}
	if !st.HasSensor(k) {
		return Reject(ReasonUndeclaredSensor, fmt.Sprintf("sensor %s not declared by station %s", k, st.ID))
	}
	return nil
}

// parseNumber reads the raw JSON scalar of member name as a number. Absent
// or null is ReasonMissingField; a string spelling NaN or infinity, or a
// number beyond float64 such as 1e999, is ReasonNotFinite; any other
// string, or a boolean, is ReasonBadJSON.
func parseNumber(raw []byte, name string) (float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, Reject(ReasonMissingField, name)
	}
	switch raw[0] {
	case '"':
		str, err := (&scanner{data: raw}).str()
		if err == nil {
			if f, err := strconv.ParseFloat(string(str), 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return 0, Reject(ReasonNotFinite, name+" "+strconv.Quote(truncate(string(str), 40)))
			}
		}
		return 0, Reject(ReasonBadJSON, name+" must be a number, got a string")
	case 't', 'f':
		return 0, Reject(ReasonBadJSON, name+" must be a number, got a boolean")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		// JSON numbers too large for float64 parse as ±Inf with a range error.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && math.IsInf(f, 0) {
			return 0, Reject(ReasonNotFinite, name+" out of float64 range")
		}
		return 0, Reject(ReasonBadJSON, name+" must be a number")
	}
	return f, nil
}

// Timestamps outside [2000-01-01, 3000-01-01) are ReasonBadTimestamp: devices
// with an unset RTC report 1970, and the upper bound keeps every accepted
// time representable in RFC 3339 even when MaxFuture is 0 (unchecked).
const (
	minTSUnix = 946684800   // 2000-01-01T00:00:00Z
	maxTSUnix = 32503680000 // 3000-01-01T00:00:00Z
)

func checkTSRange(t time.Time) error {
	if s := t.Unix(); s < minTSUnix {
		return Reject(ReasonBadTimestamp, "before 2000-01-01")
	} else if s >= maxTSUnix {
		return Reject(ReasonBadTimestamp, "after 3000-01-01")
	}
	return nil
}

// parseTS accepts an RFC 3339 string or epoch milliseconds (raw JSON
// scalar text).
func parseTS(raw []byte) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, Reject(ReasonMissingField, "ts")
	}
	var t time.Time
	if raw[0] == '"' {
		str, err := (&scanner{data: raw}).str()
		if err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, err.(*RejectError).Detail)
		}
		// time.Parse also takes a comma before the fraction, which RFC 3339
		// (and the schema's pattern) does not.
		if bytes.IndexByte(str, ',') >= 0 {
			return time.Time{}, Reject(ReasonBadTimestamp, "not RFC 3339: "+strconv.Quote(truncate(string(str), 80)))
		}
		if t, err = time.Parse(time.RFC3339Nano, string(str)); err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, "not RFC 3339: "+strconv.Quote(truncate(string(str), 80)))
		}
	} else {
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, "not epoch milliseconds: "+truncate(string(raw), 40))
		}
		t = time.UnixMilli(ms)
	}
	if err := checkTSRange(t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
