package schemas

import (
	"bytes"
	"encoding/json"
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

// deviceMsg is the v1 device reading message.
type deviceMsg struct {
	V        *int            `json:"v"`
	Station  string          `json:"station"`
	Seq      *uint64         `json:"seq"`
	Boot     uint32          `json:"boot"`
	TS       json.RawMessage `json:"ts"`
	Readings []struct {
		Sensor Sensor          `json:"sensor"`
		Value  json.RawMessage `json:"value"`
		Unit   string          `json:"unit"`
	} `json:"readings"`
	Battery *float64 `json:"battery"`
	RSSI    *int     `json:"rssi"`
}

// Decode decodes payload received on topic at now. Checks run in this
// order, the first failure deciding the Reason: payload size (oversize),
// topic shape and station id (bad_topic, bad_station_id), registry
// (unknown_station), UTF-8 (bad_utf8), emptiness (empty), JSON syntax and
// types (bad_json), batch size (oversize); then per message: v, station,
// seq, ts (missing_field, bad_version, bad_station_id, station_mismatch,
// bad_timestamp, future_timestamp), then each reading (missing_field,
// bad_json, not_finite, unknown_sensor, bad_unit, out_of_bounds) and the
// battery field. The topic is "stations/{id}/readings" (v1 JSON) or
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
	var msgs []deviceMsg
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &msgs); err != nil {
			return nil, Reject(ReasonBadJSON, truncate(err.Error(), 200))
		}
		if len(msgs) == 0 {
			return nil, Reject(ReasonEmpty, "empty batch")
		}
		if d.Opts.MaxBatch > 0 && len(msgs) > d.Opts.MaxBatch {
			return nil, Reject(ReasonOversize, fmt.Sprintf("batch of %d > %d", len(msgs), d.Opts.MaxBatch))
		}
	} else {
		var m deviceMsg
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, Reject(ReasonBadJSON, truncate(err.Error(), 200))
		}
		msgs = []deviceMsg{m}
	}
	out := make([]Record, 0, len(msgs))
	for i := range msgs {
		r, err := d.fromDevice(st, &msgs[i], now)
		if err != nil {
			var re *RejectError
			if trimmed[0] == '[' && errors.As(err, &re) {
				return nil, &RejectError{Reason: re.Reason, Detail: fmt.Sprintf("batch[%d]: %s", i, re.Detail)}
			}
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
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
	r := Record{V: RecordVersion, Station: st.ID, Seq: *m.Seq, Boot: m.Boot, TS: ts, ReceivedAt: now.UTC(), RSSI: m.RSSI, Format: "v1",
		Readings: make([]Measurement, 0, len(m.Readings))}
	for _, x := range m.Readings {
		v, err := parseValue(x.Value)
		if err != nil {
			return Record{}, err
		}
		cv, err := Normalize(x.Sensor, v, x.Unit)
		if err != nil {
			return Record{}, err
		}
		r.Readings = append(r.Readings, Measurement{Sensor: x.Sensor, Value: cv, Unit: Specs[x.Sensor].Unit})
	}
	if m.Battery != nil {
		b, err := Normalize(Battery, *m.Battery, "V")
		if err != nil {
			return Record{}, err
		}
		r.Battery = &b
	}
	return r, nil
}

// parseValue accepts a JSON number. Strings such as "NaN" are rejected as
// not finite; anything else is bad JSON.
func parseValue(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, Reject(ReasonMissingField, "value")
	}
	if s[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			if f, err := strconv.ParseFloat(str, 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return 0, Reject(ReasonNotFinite, "value "+strconv.Quote(truncate(str, 40)))
			}
		}
		return 0, Reject(ReasonBadJSON, "value must be a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// JSON numbers too large for float64 parse as ±Inf with a range error.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, Reject(ReasonNotFinite, "value out of float64 range")
		}
		return 0, Reject(ReasonBadJSON, "value must be a number")
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

// parseTS accepts an RFC 3339 string or epoch milliseconds.
func parseTS(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, Reject(ReasonMissingField, "ts")
	}
	var t time.Time
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, truncate(err.Error(), 200))
		}
		var err error
		if t, err = time.Parse(time.RFC3339Nano, str); err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, "not RFC 3339: "+strconv.Quote(truncate(str, 80)))
		}
	} else {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, Reject(ReasonBadTimestamp, "not epoch milliseconds: "+truncate(s, 40))
		}
		t = time.UnixMilli(ms)
	}
	if err := checkTSRange(t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
