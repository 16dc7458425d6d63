package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// badKind is one kind of malformed message of the barrage.
type badKind struct {
	label string
	// build returns the topic ("" for the station's readings topic) and the
	// payload, given the station, its next seq and the time.
	build func(st string, seq uint64, ts time.Time) (topic string, payload []byte)
	// reasons are the acceptable dead-letter reasons.
	reasons []schemas.Reason
	// refusable: the broker may refuse it (too large for Mosquitto's
	// message_size_limit, a wildcard in the topic name).
	refusable bool
}

func rfc(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }

func v1(st string, seq uint64, ts time.Time, body string) []byte {
	return fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"ts":%q,%s}`, st, seq, rfc(ts), body)
}

const wl = `"readings":[{"sensor":"water_level","value":%s,"unit":"m"}]`

// badKinds is the barrage: at least 18 kinds of malformed message.
func badKinds() []badKind {
	dl := func(r ...schemas.Reason) []schemas.Reason { return r }
	return []badKind{
		{label: "truncated JSON", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			p := v1(st, seq, ts, fmt.Sprintf(wl, "4.8"))
			return "", p[:len(p)/2]
		}, reasons: dl(schemas.ReasonBadJSON)},
		{label: "invalid UTF-8", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			p := v1(st, seq, ts, fmt.Sprintf(wl, "4.8"))
			return "", append(p[:len(p)-1], []byte(`,"note":"`+"\xff\xfe"+`"}`)...)
		}, reasons: dl(schemas.ReasonBadUTF8)},
		{label: "NaN literal", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, "NaN"))
		}, reasons: dl(schemas.ReasonBadJSON, schemas.ReasonNotFinite)},
		{label: `"NaN" string`, build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, `"NaN"`))
		}, reasons: dl(schemas.ReasonNotFinite)},
		{label: "1e999", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, "1e999"))
		}, reasons: dl(schemas.ReasonNotFinite)},
		{label: "string for number", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, `"4.8"`))
		}, reasons: dl(schemas.ReasonBadJSON)},
		{label: "station id with newline (payload)", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"ts":%q,`+wl+`}`, st+"\nx", seq, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonBadStationID)},
		{label: "station id with newline (topic)", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return fmt.Sprintf(schemas.TopicReadingsFmt, st+"\nx"), v1(st, seq, ts, fmt.Sprintf(wl, "4.8"))
		}, reasons: dl(schemas.ReasonBadStationID), refusable: true}, // Mosquitto drops the connection for a control character in a topic
		{label: "wildcard in payload id", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"ts":%q,`+wl+`}`, st+"+#", seq, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonBadStationID)},
		{label: "wildcard in topic", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return fmt.Sprintf(schemas.TopicReadingsFmt, st+"+"), v1(st, seq, ts, fmt.Sprintf(wl, "4.8"))
		}, reasons: dl(schemas.ReasonBadStationID), refusable: true},
		{label: "unknown version", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":2,"station":%q,"seq":%d,"ts":%q,`+wl+`}`, st, seq, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonBadVersion)},
		{label: "unknown sensor", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, `"readings":[{"sensor":"humidity","value":40,"unit":"%"}]`)
		}, reasons: dl(schemas.ReasonUnknownSensor)},
		{label: "undeclared sensor", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, `"readings":[{"sensor":"tilt","value":0.5,"unit":"deg"}]`)
		}, reasons: dl(schemas.ReasonUndeclaredSensor)},
		{label: "duplicate key", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"seq":%d,"ts":%q,`+wl+`}`, st, seq, seq+1000, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonDuplicateKey)},
		{label: "duplicate sensor", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, `"readings":[{"sensor":"water_level","value":4.8,"unit":"m"},{"sensor":"water_level","value":4.9,"unit":"m"}]`)
		}, reasons: dl(schemas.ReasonDuplicateSensor)},
		{label: "unknown station", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			other := st + "-NOPE"
			return fmt.Sprintf(schemas.TopicReadingsFmt, other), v1(other, seq, ts, fmt.Sprintf(wl, "4.8"))
		}, reasons: dl(schemas.ReasonUnknownStation)},
		{label: "station mismatch", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"ts":%q,`+wl+`}`, st+"X", seq, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonStationMismatch)},
		{label: "2 MB payload", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, "4.8")+`,"pad":"`+strings.Repeat("x", 2<<20)+`"`)
		}, reasons: dl(schemas.ReasonOversize), refusable: true},
		{label: "100,000-deep nesting", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
		}, reasons: dl(schemas.ReasonOversize, schemas.ReasonBadJSON)},
		{label: "batch of 10,000", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", []byte("[" + strings.TrimSuffix(strings.Repeat("{},", 10000), ",") + "]")
		}, reasons: dl(schemas.ReasonOversize)},
		{label: "empty payload", build: func(string, uint64, time.Time) (string, []byte) {
			return "", nil
		}, reasons: dl(schemas.ReasonEmpty)},
		{label: "missing seq", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"ts":%q,`+wl+`}`, st, rfc(ts), "4.8")
		}, reasons: dl(schemas.ReasonMissingField)},
		{label: "out of bounds", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, fmt.Sprintf(wl, "1e6"))
		}, reasons: dl(schemas.ReasonOutOfBounds)},
		{label: "bad unit", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts, `"readings":[{"sensor":"water_level","value":4.8,"unit":"furlong"}]`)
		}, reasons: dl(schemas.ReasonBadUnit)},
		{label: "ts not RFC 3339", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", fmt.Appendf(nil, `{"v":1,"station":%q,"seq":%d,"ts":"yesterday",`+wl+`}`, st, seq, "4.8")
		}, reasons: dl(schemas.ReasonBadTimestamp)},
		{label: "ts +1h", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, ts.Add(time.Hour), fmt.Sprintf(wl, "4.8"))
		}, reasons: dl(schemas.ReasonFutureTS)},
		{label: "ts 1970", build: func(st string, seq uint64, ts time.Time) (string, []byte) {
			return "", v1(st, seq, time.Unix(int64(seq), 0), fmt.Sprintf(wl, "4.8"))
		}, reasons: dl(schemas.ReasonBadTimestamp)},
		{label: "not JSON at all", build: func(string, uint64, time.Time) (string, []byte) {
			return "", []byte("hello, world")
		}, reasons: dl(schemas.ReasonBadJSON)},
	}
}

func (k badKind) special() harness.Special {
	return harness.Special{Label: k.label, NoRetry: k.refusable, Build: func(st string, seq uint64, now time.Time) (string, []byte, time.Time, harness.Fate) {
		topic, payload := k.build(st, seq, now)
		return topic, payload, now, harness.Fate{Kind: harness.DeadLettered, Reasons: k.reasons, MayBeRefused: k.refusable}
	}}
}

// faultBarrage sends every bad kind from a different station, interleaved
// with the stations' routine readings, twice over.
func faultBarrage(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	kinds := badKinds()
	for round := 0; round < 2; round++ {
		for i, k := range kinds {
			r.Load.Inject((i+round)%len(r.Stations), k.special())
		}
	}
	return sleep(ctx, 20*time.Second)
}
