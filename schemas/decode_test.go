package schemas

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

const (
	topic1   = "stations/ST-1/readings"
	senml1   = "stations/ST-1/senml"
	okTS     = `"2025-10-28T02:50:00Z"`
	okMsgFmt = `{"v":1,"station":"ST-1","seq":7,"ts":%s,"readings":[%s]}`
	wl712    = `{"sensor":"water_level","value":7.12,"unit":"m"}`
)

func msg(ts, readings string) string { return fmt.Sprintf(okMsgFmt, ts, readings) }

func wl(value, unit string) string {
	return fmt.Sprintf(`{"sensor":"water_level","value":%s,"unit":"%s"}`, value, unit)
}

type decodeCase struct {
	name    string
	topic   string // default topic1
	payload string
	reason  Reason // "" means accepted
	detail  string // substring of the rejection detail
	check   func(t *testing.T, recs []Record)
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	d := testDecoder(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := c.topic
			if topic == "" {
				topic = topic1
			}
			recs, err := d.Decode(topic, []byte(c.payload), testNow)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				checkRecords(t, d, topic, recs, testNow)
				if c.check != nil {
					c.check(t, recs)
				}
				return
			}
			if recs != nil {
				t.Fatalf("got records %+v with expected rejection %s", recs, c.reason)
			}
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T) is not a *RejectError", err, err)
			}
			if re.Reason != c.reason || ReasonOf(err) != c.reason {
				t.Fatalf("reason %s (%v), want %s", re.Reason, err, c.reason)
			}
			if !strings.Contains(re.Detail, c.detail) {
				t.Fatalf("detail %q does not contain %q", re.Detail, c.detail)
			}
		})
	}
}

func wantReading(t *testing.T, m Measurement, s Sensor, v float64, unit string) {
	t.Helper()
	if m.Sensor != s || math.Abs(m.Value-v) > 1e-9 || m.Unit != unit {
		t.Fatalf("reading %+v, want %s %v %s", m, s, v, unit)
	}
}

func TestDecodeV1(t *testing.T) {
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	runDecodeCases(t, []decodeCase{
		{name: "single message", payload: `{"v":1,"station":"ST-1","seq":7,"boot":2,"ts":"2025-10-28T02:50:00Z","readings":[` + wl712 + `,{"sensor":"rainfall","value":3.5,"unit":"mm"}],"battery":3.9,"rssi":-87}`,
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 1 {
					t.Fatalf("%d records", len(recs))
				}
				r := recs[0]
				if r.Station != "ST-1" || r.Seq != 7 || r.Boot != 2 || !r.TS.Equal(at("2025-10-28T02:50:00Z")) || r.Format != "v1" {
					t.Fatalf("record %+v", r)
				}
				if !r.ReceivedAt.Equal(testNow) || r.Battery == nil || *r.Battery != 3.9 || r.RSSI == nil || *r.RSSI != -87 {
					t.Fatalf("record %+v", r)
				}
				if len(r.Readings) != 2 {
					t.Fatalf("readings %+v", r.Readings)
				}
				wantReading(t, r.Readings[0], WaterLevel, 7.12, "m")
				wantReading(t, r.Readings[1], Rainfall, 3.5, "mm")
			}},
		{name: "leading and trailing whitespace", payload: " \n" + msg(okTS, wl712) + "\r\n"},
		{name: "unit omitted means canonical", payload: msg(okTS, `{"sensor":"water_level","value":6.5}`),
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, 6.5, "m") }},
		{name: "cm to m", payload: msg(okTS, wl("712", "cm")),
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, 7.12, "m") }},
		{name: "mm to m", payload: msg(okTS, wl("-1250", "mm")),
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, -1.25, "m") }},
		{name: "km/h to m/s", topic: "stations/ST-2/readings",
			payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[{"sensor":"wind_speed","value":36,"unit":"km/h"},{"sensor":"wind_gust","value":10,"unit":"kn"}]}`,
			check: func(t *testing.T, recs []Record) {
				wantReading(t, recs[0].Readings[0], WindSpeed, 10, "m/s")
				wantReading(t, recs[0].Readings[1], WindGust, 5.14444, "m/s")
			}},
		{name: "m to cm flood depth, rad to deg, fraction to %", topic: "stations/ST-2/readings",
			payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[{"sensor":"flood_depth","value":0.25,"unit":"m"},{"sensor":"tilt","value":0.5,"unit":"rad"},{"sensor":"soil_moisture","value":0.42,"unit":"/"}]}`,
			check: func(t *testing.T, recs []Record) {
				wantReading(t, recs[0].Readings[0], FloodDepth, 25, "cm")
				wantReading(t, recs[0].Readings[1], Tilt, 0.5*180/math.Pi, "deg")
				wantReading(t, recs[0].Readings[2], SoilMoisture, 42, "%")
			}},
		{name: "battery reading needs a declared battery sensor", payload: msg(okTS, `{"sensor":"battery","value":3900,"unit":"mV"}`),
			reason: ReasonUndeclaredSensor, detail: "readings[0]: sensor battery not declared by station ST-1"},
		{name: "battery-only heartbeat", payload: `{"v":1,"station":"ST-1","seq":8,"ts":` + okTS + `,"readings":[],"battery":4.1}`,
			check: func(t *testing.T, recs []Record) {
				if len(recs[0].Readings) != 0 || recs[0].Readings == nil || *recs[0].Battery != 4.1 {
					t.Fatalf("record %+v", recs[0])
				}
			}},
		{name: "epoch ms", payload: msg(`1761619800123`, wl712),
			check: func(t *testing.T, recs []Record) {
				if !recs[0].TS.Equal(time.UnixMilli(1761619800123)) {
					t.Fatalf("ts %s", recs[0].TS)
				}
			}},
		{name: "RFC 3339 with offset is UTC", payload: msg(`"2025-10-28T09:50:00.5+07:00"`, wl712),
			check: func(t *testing.T, recs []Record) {
				if !recs[0].TS.Equal(at("2025-10-28T02:50:00.5Z")) || recs[0].TS.Location() != time.UTC {
					t.Fatalf("ts %s", recs[0].TS)
				}
			}},
		{name: "ts 4 min ahead accepted", payload: msg(`"2025-10-28T03:04:00Z"`, wl712)},
		{name: "ts exactly 5 min ahead accepted", payload: msg(`"2025-10-28T03:05:00Z"`, wl712)},
		{name: "ts 5 min 1 ms ahead", payload: msg(`"2025-10-28T03:05:00.001Z"`, wl712), reason: ReasonFutureTS},
		{name: "ts 6 min ahead epoch ms", payload: msg(fmt.Sprint(testNow.Add(6*time.Minute).UnixMilli()), wl712), reason: ReasonFutureTS, detail: "6m0s ahead"},
		{name: "ts year 2999 epoch ms", payload: msg(`32503679999999`, wl712), reason: ReasonFutureTS},
		{name: "ts year 3000 epoch ms", payload: msg(`32503680000000`, wl712), reason: ReasonBadTimestamp},
		{name: "ts max int64 ms", payload: msg(`9223372036854775807`, wl712), reason: ReasonBadTimestamp},
		{name: "ts beyond int64", payload: msg(`92233720368547758070`, wl712), reason: ReasonBadTimestamp},
		{name: "ts 1970", payload: msg(`0`, wl712), reason: ReasonBadTimestamp, detail: "before 2000"},
		{name: "ts negative", payload: msg(`-1`, wl712), reason: ReasonBadTimestamp},
		{name: "ts epoch seconds read as ms is 1970", payload: msg(`1761619800`, wl712), reason: ReasonBadTimestamp},
		{name: "ts float", payload: msg(`1761619800000.0`, wl712), reason: ReasonBadTimestamp},
		{name: "ts not RFC 3339", payload: msg(`"2025-10-28 02:50:00"`, wl712), reason: ReasonBadTimestamp, detail: "not RFC 3339"},
		{name: "ts without zone", payload: msg(`"2025-10-28T02:50:00"`, wl712), reason: ReasonBadTimestamp},
		{name: "ts bool", payload: msg(`true`, wl712), reason: ReasonBadTimestamp},
		{name: "ts null", payload: msg(`null`, wl712), reason: ReasonMissingField, detail: "ts"},

		{name: "bad JSON", payload: `{"v":1,"station":`, reason: ReasonBadJSON},
		{name: "bad JSON trailing garbage", payload: msg(okTS, wl712) + `}`, reason: ReasonBadJSON},
		{name: "bad JSON two objects", payload: msg(okTS, wl712) + msg(okTS, wl712), reason: ReasonBadJSON},
		{name: "JSON string", payload: `"hello"`, reason: ReasonBadJSON},
		{name: "JSON number", payload: `42`, reason: ReasonBadJSON},
		{name: "JSON null", payload: `null`, reason: ReasonMissingField, detail: "v"},
		{name: "negative seq", payload: `{"v":1,"station":"ST-1","seq":-1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadJSON},
		{name: "seq float", payload: `{"v":1,"station":"ST-1","seq":1.5,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadJSON},
		{name: "value as numeric string", payload: msg(okTS, wl(`"7.12"`, "m")), reason: ReasonBadJSON, detail: "must be a number"},
		{name: "value bool", payload: msg(okTS, wl(`true`, "m")), reason: ReasonBadJSON},
		{name: "value object", payload: msg(okTS, wl(`{}`, "m")), reason: ReasonBadJSON},
		{name: "invalid UTF-8 in string", payload: msg(okTS, wl("7", "m\xff")), reason: ReasonBadUTF8},
		{name: "invalid UTF-8 overlong", payload: "{\"v\":1,\"station\":\"ST-1\xc0\xaf\"}", reason: ReasonBadUTF8},
		{name: "invalid UTF-8 surrogate", payload: msg(okTS, wl("7", "\xed\xa0\x80")), reason: ReasonBadUTF8},
		{name: "empty payload", payload: ``, reason: ReasonEmpty},
		{name: "whitespace payload", payload: " \t\r\n", reason: ReasonEmpty},
		{name: "empty batch", payload: `[]`, reason: ReasonEmpty, detail: "batch"},

		{name: "value NaN string", payload: msg(okTS, wl(`"NaN"`, "m")), reason: ReasonNotFinite},
		{name: "value Inf string", payload: msg(okTS, wl(`"-Infinity"`, "m")), reason: ReasonNotFinite},
		{name: "value 1e999", payload: msg(okTS, wl(`1e999`, "m")), reason: ReasonNotFinite},
		{name: "value -1e999", payload: msg(okTS, wl(`-1e999`, "m")), reason: ReasonNotFinite},
		{name: "value 1e-999 underflows to 0", payload: msg(okTS, wl(`1e-999`, "m")),
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, 0, "m") }},
		{name: "conversion overflows to Inf", payload: msg(okTS, `{"sensor":"rainfall","value":1e308,"unit":"in"}`), reason: ReasonNotFinite},
		{name: "value null", payload: msg(okTS, wl(`null`, "m")), reason: ReasonMissingField, detail: "value"},
		{name: "value missing", payload: msg(okTS, `{"sensor":"water_level","unit":"m"}`), reason: ReasonMissingField, detail: "value"},

		{name: "water level above bound", payload: msg(okTS, wl("200.01", "m")), reason: ReasonOutOfBounds, detail: "water_level"},
		{name: "water level at bound", payload: msg(okTS, wl("200", "m"))},
		{name: "water level in cm above bound", payload: msg(okTS, wl("20001", "cm")), reason: ReasonOutOfBounds, detail: "200.01 m"},
		{name: "water level below bound", payload: msg(okTS, wl("-50.5", "m")), reason: ReasonOutOfBounds},
		{name: "negative rainfall", payload: msg(okTS, `{"sensor":"rainfall","value":-0.1,"unit":"mm"}`), reason: ReasonOutOfBounds},
		{name: "wind 500 km/h", topic: "stations/ST-2/readings", payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[{"sensor":"wind_speed","value":500,"unit":"km/h"}]}`, reason: ReasonOutOfBounds},
		{name: "soil moisture 101%", topic: "stations/ST-2/readings", payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[{"sensor":"soil_moisture","value":101}]}`, reason: ReasonOutOfBounds},
		{name: "battery field out of bounds", payload: `{"v":1,"station":"ST-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `],"battery":61}`, reason: ReasonOutOfBounds, detail: "battery"},
		{name: "unknown sensor", payload: msg(okTS, `{"sensor":"pressure","value":1013}`), reason: ReasonUnknownSensor, detail: "pressure"},
		{name: "missing sensor", payload: msg(okTS, `{"value":1}`), reason: ReasonMissingField, detail: "readings[0]: sensor"},
		{name: "empty sensor", payload: msg(okTS, `{"sensor":"","value":1}`), reason: ReasonUnknownSensor},
		{name: "bad unit", payload: msg(okTS, wl("23", "ft")), reason: ReasonBadUnit, detail: "ft"},
		{name: "unit of another sensor", payload: msg(okTS, wl("5", "km/h")), reason: ReasonBadUnit},

		{name: "missing v", payload: `{"station":"ST-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonMissingField, detail: "v"},
		{name: "v 2", payload: `{"v":2,"station":"ST-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadVersion, detail: "v=2"},
		{name: "v 0", payload: `{"v":0,"station":"ST-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadVersion},
		{name: "v string", payload: `{"v":"1","station":"ST-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadJSON},
		{name: "missing seq", payload: `{"v":1,"station":"ST-1","ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonMissingField, detail: "seq"},
		{name: "missing ts", payload: `{"v":1,"station":"ST-1","seq":1,"readings":[` + wl712 + `]}`, reason: ReasonMissingField, detail: "ts"},
		{name: "missing station", payload: `{"v":1,"seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonMissingField, detail: "station"},
		{name: "missing readings and battery", payload: `{"v":1,"station":"ST-1","seq":1,"ts":` + okTS + `}`, reason: ReasonMissingField, detail: "readings"},
		{name: "empty readings without battery", payload: msg(okTS, ``), reason: ReasonMissingField, detail: "readings"},

		{name: "payload station differs from topic", payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonStationMismatch, detail: "payload ST-2, topic ST-1"},
		{name: "payload station differs in case", payload: `{"v":1,"station":"st-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonStationMismatch},
		{name: "payload station invalid id", payload: `{"v":1,"station":"ST-1\n,evil=1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadStationID},
		{name: "payload station with wildcard", payload: `{"v":1,"station":"+","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonBadStationID},

		{name: "unknown station", topic: "stations/NOPE/readings", payload: msg(okTS, wl712), reason: ReasonUnknownStation, detail: "NOPE"},
		{name: "topic station newline", topic: "stations/ST-1\n/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station space", topic: "stations/ST 1/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station influx tag injection", topic: "stations/ST-1,district=x/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station plus", topic: "stations/+/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station hash", topic: "stations/#/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station 65 chars", topic: "stations/" + strings.Repeat("A", 65) + "/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station empty", topic: "stations//readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic station non-ASCII", topic: "stations/ST-Ái/readings", payload: msg(okTS, wl712), reason: ReasonBadStationID},
		{name: "topic status", topic: "stations/ST-1/status", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic cmd", topic: "stations/ST-1/cmd/siren", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic extra level", topic: "stations/ST-1/x/readings", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic trailing slash", topic: "stations/ST-1/readings/", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic other root", topic: "devices/ST-1/readings", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic empty", topic: "/", payload: msg(okTS, wl712), reason: ReasonBadTopic},
		{name: "topic leading slash", topic: "/stations/ST-1/readings", payload: msg(okTS, wl712), reason: ReasonBadTopic},
	})
}

func TestDecodeBatch(t *testing.T) {
	m := func(seq int, ts string) string {
		return fmt.Sprintf(`{"v":1,"station":"ST-1","seq":%d,"ts":%q,"readings":[%s]}`, seq, ts, wl712)
	}
	runDecodeCases(t, []decodeCase{
		{name: "batch of 3 accepted whole in order", payload: "[" + m(1, "2025-10-28T02:30:00Z") + "," + m(2, "2025-10-28T02:40:00Z") + "," + m(3, "2025-10-28T02:50:00Z") + "]",
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 3 {
					t.Fatalf("%d records", len(recs))
				}
				for i, r := range recs {
					if r.Seq != uint64(i+1) {
						t.Fatalf("record %d seq %d", i, r.Seq)
					}
				}
			}},
		{name: "batch of 1", payload: "[" + m(1, "2025-10-28T02:30:00Z") + "]",
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 1 {
					t.Fatalf("%d records", len(recs))
				}
			}},
		{name: "batch with one future message rejected whole", payload: "[" + m(1, "2025-10-28T02:30:00Z") + "," + m(2, "2099-01-01T00:00:00Z") + "]",
			reason: ReasonFutureTS, detail: "batch[1]: "},
		{name: "batch of 1 keeps batch index", payload: "[" + m(1, "1999-01-01T00:00:00Z") + "]", reason: ReasonBadTimestamp, detail: "batch[0]: "},
		{name: "batch with station mismatch", payload: "[" + m(1, "2025-10-28T02:30:00Z") + "," + strings.Replace(m(2, "2025-10-28T02:30:00Z"), "ST-1", "ST-2", 1) + "]",
			reason: ReasonStationMismatch, detail: "batch[1]: payload ST-2"},
		{name: "batch with out-of-bounds value", payload: "[" + m(1, "2025-10-28T02:30:00Z") + "," + m(2, "2025-10-28T02:30:00Z") + "," + msg(okTS, wl("999", "m")) + "]",
			reason: ReasonOutOfBounds, detail: "batch[2]: "},
		{name: "batch with a non-object", payload: "[" + m(1, "2025-10-28T02:30:00Z") + ",1]", reason: ReasonBadJSON},
		{name: "batch with null element", payload: "[" + m(1, "2025-10-28T02:30:00Z") + ",null]", reason: ReasonMissingField, detail: "batch[1]: v"},
		{name: "nested array", payload: "[[" + m(1, "2025-10-28T02:30:00Z") + "]]", reason: ReasonBadJSON},
	})
}

func TestDecodeLimits(t *testing.T) {
	d := testDecoder(t)
	d.Opts.MaxPayload = 200
	d.Opts.MaxBatch = 2
	one := msg(okTS, wl712)
	if _, err := d.Decode(topic1, []byte(one), testNow); err != nil {
		t.Fatalf("small message: %v", err)
	}
	big := msg(okTS, wl712+strings.Repeat(","+wl712, 10))
	_, err := d.Decode(topic1, []byte(big), testNow)
	if ReasonOf(err) != ReasonOversize || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes > 200", len(big))) {
		t.Fatalf("oversize payload: %v", err)
	}
	// Oversize is decided before anything else, even a bad topic.
	if ReasonOf(mustErr(d.Decode("bad", []byte(big), testNow))) != ReasonOversize {
		t.Fatal("oversize not checked first")
	}
	d.Opts.MaxPayload = 64 << 10
	batch := "[" + one + "," + one + "," + one + "]"
	_, err = d.Decode(topic1, []byte(batch), testNow)
	if ReasonOf(err) != ReasonOversize || !strings.Contains(err.Error(), "batch of more than 2 messages") {
		t.Fatalf("oversize batch: %v", err)
	}
	recs, err := d.Decode(topic1, []byte("["+one+","+one+"]"), testNow)
	if err != nil || len(recs) != 2 {
		t.Fatalf("batch at limit: %d records, %v", len(recs), err)
	}
	// Default limit: 64 KiB.
	d = testDecoder(t)
	pad := strings.Repeat(" ", 64<<10-len(one))
	if _, err := d.Decode(topic1, []byte(one+pad), testNow); err != nil {
		t.Fatalf("64 KiB payload: %v", err)
	}
	if err := mustErr(d.Decode(topic1, []byte(one+pad+" "), testNow)); ReasonOf(err) != ReasonOversize {
		t.Fatalf("64 KiB + 1 payload: %v", err)
	}
	// MaxFuture 0 disables the future check but not the sanity range.
	d.Opts.MaxFuture = 0
	if _, err := d.Decode(topic1, []byte(msg(`"2999-01-01T00:00:00Z"`, wl712)), testNow); err != nil {
		t.Fatalf("MaxFuture 0: %v", err)
	}
	if err := mustErr(d.Decode(topic1, []byte(msg(`40000000000000`, wl712)), testNow)); ReasonOf(err) != ReasonBadTimestamp {
		t.Fatalf("MaxFuture 0, year 3237: %v", err)
	}
}

func mustErr(_ []Record, err error) error { return err }

func TestDecodeNilRegistry(t *testing.T) {
	d := &Decoder{Opts: DefaultDecodeOptions()}
	_, err := d.Decode(topic1, []byte(msg(okTS, wl712)), testNow)
	if ReasonOf(err) != ReasonUnknownStation {
		t.Fatalf("nil registry: %v", err)
	}
}

func TestDecodeUTF8CheckedBeforeJSON(t *testing.T) {
	// encoding/json would silently turn the bad byte into U+FFFD and accept
	// the message; the decoder must reject it.
	d := testDecoder(t)
	payload := []byte(msg(okTS, "{\"sensor\":\"water_level\",\"value\":7,\"unit\":\"m\xff\"}"))
	_, err := d.Decode(topic1, payload, testNow)
	if ReasonOf(err) != ReasonBadUTF8 {
		t.Fatalf("got %v", err)
	}
	// A valid U+FFFD is fine as far as UTF-8 goes (and then a bad unit).
	payload = []byte(msg(okTS, `{"sensor":"water_level","value":7,"unit":"m`+"\uFFFD"+`"}`))
	if _, err = d.Decode(topic1, payload, testNow); ReasonOf(err) != ReasonBadUnit {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeSenML(t *testing.T) {
	abs := testNow.Add(-10 * time.Minute).Unix() // 02:50:00Z
	runDecodeCases(t, []decodeCase{
		{name: "base name with colon, bt, units, seq record", topic: senml1,
			payload: fmt.Sprintf(`[{"bn":"ST-1:","bt":%d,"n":"water_level","u":"m","v":7.12},{"n":"rainfall","u":"mm","v":3.5},{"n":"seq","v":42},{"n":"battery","u":"V","v":3.9}]`, abs),
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 1 {
					t.Fatalf("%d records", len(recs))
				}
				r := recs[0]
				if r.Seq != 42 || !r.TS.Equal(time.Unix(abs, 0)) || r.Format != "senml" || r.Battery == nil || *r.Battery != 3.9 || len(r.Readings) != 2 {
					t.Fatalf("record %+v", r)
				}
				wantReading(t, r.Readings[0], WaterLevel, 7.12, "m")
				wantReading(t, r.Readings[1], Rainfall, 3.5, "mm")
			}},
		{name: "base name with slash and base unit cm", topic: senml1,
			payload: fmt.Sprintf(`[{"bn":"ST-1/","bt":%d,"bu":"cm","n":"water_level","v":712}]`, abs),
			check:   func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, 7.12, "m") }},
		{name: "u overrides bu", topic: senml1,
			payload: fmt.Sprintf(`[{"bn":"ST-1/","bt":%d,"bu":"cm","n":"water_level","v":712},{"n":"water_level","u":"m","v":7.2,"t":1}]`, abs),
			check: func(t *testing.T, recs []Record) {
				wantReading(t, recs[0].Readings[0], WaterLevel, 7.12, "m")
				wantReading(t, recs[1].Readings[0], WaterLevel, 7.2, "m")
			}},
		{name: "bt+t groups records by time, seq defaults to epoch ms", topic: senml1,
			payload: fmt.Sprintf(`[{"bt":%d,"n":"water_level","u":"m","v":7.02,"t":600},{"n":"water_level","u":"m","v":7.12,"t":0.5},{"n":"rainfall","u":"mm","v":1,"t":600}]`, abs-600),
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 2 {
					t.Fatalf("%d records", len(recs))
				}
				if !recs[0].TS.Equal(time.UnixMilli((abs-600)*1000+500)) || recs[0].Seq != uint64((abs-600)*1000+500) || len(recs[0].Readings) != 1 {
					t.Fatalf("first %+v", recs[0])
				}
				if !recs[1].TS.Equal(time.Unix(abs, 0)) || recs[1].Seq != uint64(abs*1000) || len(recs[1].Readings) != 2 {
					t.Fatalf("second %+v", recs[1])
				}
			}},
		{name: "explicit bt 0 resets base time", topic: senml1,
			payload: fmt.Sprintf(`[{"bt":%d,"n":"water_level","v":7},{"bt":0,"n":"water_level","v":7.1,"t":-30}]`, abs),
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 2 || !recs[0].TS.Equal(time.Unix(abs, 0)) || !recs[1].TS.Equal(testNow.Add(-30*time.Second)) {
					t.Fatalf("records %+v", recs)
				}
			}},
		{name: "relative time", topic: senml1, payload: `[{"n":"water_level","u":"m","v":7.12,"t":-60},{"n":"seq","v":9,"t":-60}]`,
			check: func(t *testing.T, recs []Record) {
				if !recs[0].TS.Equal(testNow.Add(-time.Minute)) || recs[0].Seq != 9 {
					t.Fatalf("record %+v", recs[0])
				}
			}},
		{name: "no time means now", topic: senml1, payload: `[{"n":"water_level","v":7.12}]`,
			check: func(t *testing.T, recs []Record) {
				if !recs[0].TS.Equal(testNow) {
					t.Fatalf("ts %s", recs[0].TS)
				}
			}},
		{name: "prefixed names without base name", topic: senml1,
			payload: fmt.Sprintf(`[{"n":"ST-1:water_level","v":7.12,"t":%d},{"n":"ST-1/battery","u":"mV","v":3900,"t":%d}]`, abs, abs),
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 1 || *recs[0].Battery != 3.9 {
					t.Fatalf("records %+v", recs)
				}
			}},
		{name: "%RH maps to %", topic: "stations/ST-2/senml", payload: `[{"n":"soil_moisture","u":"%RH","v":40}]`,
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], SoilMoisture, 40, "%") }},
		{name: "km/h to m/s", topic: "stations/ST-2/senml", payload: `[{"n":"wind_gust","u":"km/h","v":72}]`,
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WindGust, 20, "m/s") }},
		{name: "other RFC 8428 fields and extensions ignored", topic: senml1, payload: `[{"bver":10,"n":"water_level","v":7.12,"ut":600,"s":3,"vb":true,"x":1,"y":"a","z":null}]`},

		{name: "base name of another station", topic: senml1, payload: `[{"bn":"ST-2:","n":"water_level","v":7}]`, reason: ReasonStationMismatch, detail: "ST-2"},
		{name: "base name without separator", topic: senml1, payload: `[{"bn":"ST-1","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "base name with extra separators", topic: senml1, payload: `[{"bn":"ST-1::","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "base name with the sensor in it", topic: senml1, payload: `[{"bn":"ST-1:water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "empty base name", topic: senml1, payload: `[{"bn":"","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "base name changes mid-pack", topic: senml1, payload: `[{"bn":"ST-1:","n":"water_level","v":7},{"bn":"ST-2:","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "prefixed name of another station", topic: senml1, payload: `[{"n":"ST-2/water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "seq record alone at its time", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":5,"t":-1}]`, reason: ReasonMissingField, detail: "no reading"},
		{name: "seq negative", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":-5}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "seq fractional", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":1.5}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "seq too large", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":1e300}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "string value only", topic: senml1, payload: `[{"n":"water_level","vs":"7"}]`, reason: ReasonMissingField, detail: "senml[0]: v"},
		{name: "value as numeric string", topic: senml1, payload: `[{"n":"water_level","v":"7"}]`, reason: ReasonBadJSON},
		{name: "value NaN string", topic: senml1, payload: `[{"n":"water_level","v":"NaN"}]`, reason: ReasonNotFinite},
		{name: "value 1e999", topic: senml1, payload: `[{"n":"water_level","v":1e999}]`, reason: ReasonNotFinite},
		{name: "unknown sensor", topic: senml1, payload: `[{"n":"temperature","u":"Cel","v":28}]`, reason: ReasonUnknownSensor, detail: "senml[0]: "},
		{name: "bad unit", topic: senml1, payload: `[{"n":"water_level","u":"ft","v":23}]`, reason: ReasonBadUnit},
		{name: "out of bounds", topic: senml1, payload: `[{"n":"rainfall","u":"mm","v":-1}]`, reason: ReasonOutOfBounds},
		{name: "future", topic: senml1, payload: `[{"n":"water_level","v":7,"t":301}]`, reason: ReasonFutureTS},
		{name: "future absolute", topic: senml1, payload: `[{"bt":4070908800,"n":"water_level","v":7}]`, reason: ReasonFutureTS},
		{name: "absolute before 2000", topic: senml1, payload: `[{"bt":900000000,"n":"water_level","v":7}]`, reason: ReasonBadTimestamp},
		{name: "absolute negative", topic: senml1, payload: `[{"bt":-1e18,"n":"water_level","v":7}]`, reason: ReasonBadTimestamp},
		{name: "absolute huge", topic: senml1, payload: `[{"bt":1e300,"n":"water_level","v":7}]`, reason: ReasonBadTimestamp},
		{name: "bt+t overflows to Inf", topic: senml1, payload: `[{"bt":1.7e308,"n":"water_level","v":7,"t":1.7e308}]`, reason: ReasonBadTimestamp},
		{name: "object not array", topic: senml1, payload: `{"n":"water_level","v":7}`, reason: ReasonBadJSON},
		{name: "empty pack", topic: senml1, payload: `[]`, reason: ReasonEmpty},
		{name: "invalid UTF-8", topic: senml1, payload: "[{\"n\":\"water_level\xff\",\"v\":7}]", reason: ReasonBadUTF8},
		{name: "unknown station", topic: "stations/NOPE/senml", payload: `[{"n":"water_level","v":7}]`, reason: ReasonUnknownStation},
		{name: "bad station id", topic: "stations/a+b/senml", payload: `[{"n":"water_level","v":7}]`, reason: ReasonBadStationID},
	})
}

func TestDecodeSenMLPackLimit(t *testing.T) {
	d := testDecoder(t)
	d.Opts.MaxBatch = 1
	rec := `{"n":"water_level","v":7}`
	pack := "[" + strings.TrimSuffix(strings.Repeat(rec+",", 9), ",") + "]"
	if _, err := d.Decode(senml1, []byte(pack), testNow); ReasonOf(err) != ReasonOversize {
		t.Fatalf("9 records with MaxBatch 1: %v", err)
	}
}

func TestRejectError(t *testing.T) {
	err := Reject(ReasonBadUnit, "sensor x")
	if err.Error() != "rejected: bad_unit: sensor x" {
		t.Fatal(err.Error())
	}
	if Reject(ReasonEmpty, "").Error() != "rejected: empty" {
		t.Fatal(Reject(ReasonEmpty, "").Error())
	}
	wrapped := fmt.Errorf("station ST-1: %w", err)
	if ReasonOf(wrapped) != ReasonBadUnit {
		t.Fatal("ReasonOf does not unwrap")
	}
	if ReasonOf(errors.New("x")) != "" || ReasonOf(nil) != "" {
		t.Fatal("ReasonOf of a non-rejection")
	}
	seen := map[Reason]bool{}
	for _, r := range DecodeReasons() {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) || strings.ContainsAny(string(r), " .-") {
			t.Fatalf("reason %q duplicate or not a snake_case label", r)
		}
		seen[r] = true
	}
}

// TestDecodeCoversAllReasons checks that the decoder tests above exercise
// every reason in DecodeReasons().
func TestDecodeCoversAllReasons(t *testing.T) {
	d := testDecoder(t)
	d.Opts.MaxPayload = 300
	produced := map[Reason]bool{}
	inputs := []struct{ topic, payload string }{
		{topic1, `{`}, {topic1, "\xff"}, {topic1, strings.Repeat(" ", 301)}, {"x", "{}"}, {"stations/+/readings", "{}"},
		{"stations/NOPE/readings", "{}"}, {topic1, `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`},
		{topic1, msg(okTS, `{"sensor":"x","value":1}`)}, {topic1, msg(okTS, wl("1", "ft"))}, {topic1, msg(okTS, wl("1e999", "m"))},
		{topic1, msg(okTS, wl("999", "m"))}, {topic1, msg(`"x"`, wl712)}, {topic1, msg(`"2099-01-01T00:00:00Z"`, wl712)},
		{topic1, `{"v":3}`}, {topic1, `{}`}, {topic1, ``},
		{topic1, msg(okTS, `{"sensor":"tilt","value":1}`)}, {topic1, msg(okTS, wl712+","+wl712)},
		{topic1, `{"v":1,"v":1}`}, {topic1, `{"V":1}`},
	}
	for _, in := range inputs {
		_, err := d.Decode(in.topic, []byte(in.payload), testNow)
		produced[ReasonOf(err)] = true
	}
	for _, r := range DecodeReasons() {
		if !produced[r] {
			t.Errorf("no input produced %s", r)
		}
	}
}

// gaugeDecoder has a rain gauge (RG-1: rainfall only), a landslide station
// (LS-1: tilt, soil moisture, rainfall, battery) and ST-1 as in the other
// tests.
func gaugeDecoder(t *testing.T) *Decoder {
	t.Helper()
	r, err := NewRegistry([]Station{
		{ID: "RG-1", Name: "rain gauge", Lat: 16, Lon: 108, Interval: 10 * time.Minute, Sensors: []Sensor{Rainfall}},
		{ID: "LS-1", Name: "landslide", Lat: 16, Lon: 108, Interval: 10 * time.Minute, Sensors: []Sensor{Tilt, SoilMoisture, Rainfall, Battery}},
		{ID: "ST-1", Name: "Test 1", Lat: 16, Lon: 108, Interval: 10 * time.Minute, Sensors: []Sensor{WaterLevel, Rainfall}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Decoder{Registry: r, Opts: DefaultDecodeOptions()}
}

// TestDecodeUndeclaredSensor is the regression test for defect 6: a rain
// gauge's message with a tilt reading was accepted and raised a landslide
// alert. A reading of a sensor the station does not declare rejects the
// whole message (and the whole batch or pack).
func TestDecodeUndeclaredSensor(t *testing.T) {
	d := gaugeDecoder(t)
	rain := `{"sensor":"rainfall","value":2.5,"unit":"mm"}`
	tilt := `{"sensor":"tilt","value":12}`
	rg := func(readings string) string {
		return `{"v":1,"station":"RG-1","seq":1,"ts":` + okTS + `,"readings":[` + readings + `]}`
	}
	for _, c := range []struct {
		name, topic, payload string
		reason               Reason
		detail               string
	}{
		{"rain gauge rain accepted", "stations/RG-1/readings", rg(rain), "", ""},
		{"rain gauge tilt", "stations/RG-1/readings", rg(tilt), ReasonUndeclaredSensor, "readings[0]: sensor tilt not declared by station RG-1"},
		{"declared then undeclared rejects the whole message", "stations/RG-1/readings", rg(rain + "," + tilt), ReasonUndeclaredSensor, "readings[1]: sensor tilt"},
		{"undeclared then declared", "stations/RG-1/readings", rg(tilt + "," + rain), ReasonUndeclaredSensor, "readings[0]"},
		{"undeclared in a batch rejects the batch", "stations/RG-1/readings",
			"[" + rg(rain) + "," + strings.Replace(rg(tilt), `"seq":1`, `"seq":2`, 1) + "]", ReasonUndeclaredSensor, "batch[1]: readings[0]: sensor tilt"},
		{"battery member needs no declaration", "stations/RG-1/readings",
			`{"v":1,"station":"RG-1","seq":1,"ts":` + okTS + `,"readings":[` + rain + `],"battery":3.9}`, "", ""},
		{"battery reading undeclared", "stations/RG-1/readings", rg(`{"sensor":"battery","value":3.9}`), ReasonUndeclaredSensor, "battery"},
		{"battery reading declared", "stations/LS-1/readings",
			`{"v":1,"station":"LS-1","seq":1,"ts":` + okTS + `,"readings":[` + tilt + `,{"sensor":"battery","value":3900,"unit":"mV"}]}`, "", ""},
		{"water level at a landslide station", "stations/LS-1/readings",
			`{"v":1,"station":"LS-1","seq":1,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonUndeclaredSensor, "water_level"},
		{"unknown sensor is still unknown", "stations/RG-1/readings", rg(`{"sensor":"pressure","value":1}`), ReasonUnknownSensor, "pressure"},
		{"senml rain gauge tilt", "stations/RG-1/senml", `[{"n":"rainfall","v":1},{"n":"tilt","v":12}]`, ReasonUndeclaredSensor, "senml[1]: sensor tilt"},
		{"senml prefixed undeclared", "stations/RG-1/senml", `[{"n":"RG-1:tilt","v":12}]`, ReasonUndeclaredSensor, "tilt"},
		{"senml battery needs no declaration", "stations/RG-1/senml", `[{"n":"rainfall","v":1},{"n":"battery","v":3.9}]`, "", ""},
		{"senml declared", "stations/LS-1/senml", `[{"bn":"LS-1:","n":"tilt","v":1},{"n":"soil_moisture","v":40}]`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs, err := d.Decode(c.topic, []byte(c.payload), testNow)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				checkRecords(t, d, c.topic, recs, testNow)
				st := d.Registry.Lookup(recs[0].Station)
				for _, r := range recs {
					for _, m := range r.Readings {
						if !st.HasSensor(m.Sensor) {
							t.Fatalf("accepted undeclared %s", m.Sensor)
						}
					}
				}
				return
			}
			if recs != nil || ReasonOf(err) != c.reason || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("got %d records, %v; want %s with %q", len(recs), err, c.reason, c.detail)
			}
		})
	}
}

// TestDecodeStrictJSON is the regression test for defect 10: duplicate
// member names, case-insensitive name matching, unknown members, the same
// sensor twice and unbounded rssi were accepted (encoding/json lets the last
// duplicate win and folds case). Each is rejected with its reason, at every
// object level.
func TestDecodeStrictJSON(t *testing.T) {
	base := `"v":1,"station":"ST-1","seq":7,"ts":` + okTS
	obj := func(extra string) string { return `{` + base + `,"readings":[` + wl712 + `]` + extra + `}` }
	rain := `{"sensor":"rainfall","value":1}`
	runDecodeCases(t, []decodeCase{
		{name: "duplicate v", payload: `{"v":1,` + base + `,"readings":[` + wl712 + `]}`, reason: ReasonDuplicateKey, detail: `"v" twice`},
		{name: "duplicate station differing", payload: obj(`,"station":"ST-2"`), reason: ReasonDuplicateKey, detail: "station"},
		{name: "duplicate readings", payload: obj(`,"readings":[` + rain + `]`), reason: ReasonDuplicateKey, detail: "readings"},
		{name: "duplicate ts", payload: obj(`,"ts":"2025-10-28T02:51:00Z"`), reason: ReasonDuplicateKey, detail: "ts"},
		{name: "duplicate seq null then number", payload: `{"seq":null,` + base + `,"readings":[` + wl712 + `]}`, reason: ReasonDuplicateKey},
		{name: "duplicate battery", payload: obj(`,"battery":3.9,"battery":4`), reason: ReasonDuplicateKey},
		{name: "duplicate rssi", payload: obj(`,"rssi":-80,"rssi":-81`), reason: ReasonDuplicateKey},
		{name: "duplicate boot", payload: obj(`,"boot":1,"boot":2`), reason: ReasonDuplicateKey},
		{name: "duplicate in reading value", payload: msg(okTS, `{"sensor":"water_level","value":7.12,"value":900}`), reason: ReasonDuplicateKey, detail: "readings[0]: "},
		{name: "duplicate in reading sensor", payload: msg(okTS, `{"sensor":"water_level","sensor":"rainfall","value":1}`), reason: ReasonDuplicateKey},
		{name: "duplicate in reading unit", payload: msg(okTS, `{"sensor":"water_level","value":7,"unit":"m","unit":"cm"}`), reason: ReasonDuplicateKey},
		{name: "duplicate spelled with an escape", payload: `{"v":1,"\u0076":1,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonDuplicateKey},
		{name: "duplicate in a batch element", payload: "[" + msg(okTS, wl712) + "," + obj(`,"seq":8`) + "]", reason: ReasonDuplicateKey, detail: "batch[1]: "},
		{name: "escaped name is the name", payload: `{"\u0076":1,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`},

		{name: "Station capitalised", payload: `{"v":1,"Station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonUnknownField, detail: `"Station"`},
		{name: "V capitalised", payload: `{"V":1,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, reason: ReasonUnknownField},
		{name: "case variant as a second key", payload: obj(`,"SEQ":8`), reason: ReasonUnknownField, detail: "SEQ"},
		{name: "Value capitalised in a reading", payload: msg(okTS, `{"sensor":"water_level","Value":900}`), reason: ReasonUnknownField, detail: "readings[0]: "},
		{name: "unknown member", payload: obj(`,"pad":"x"`), reason: ReasonUnknownField, detail: "pad"},
		{name: "unknown member in a reading", payload: msg(okTS, `{"sensor":"water_level","value":7,"quality":1}`), reason: ReasonUnknownField},
		{name: "unknown member name bounded in detail", payload: obj(`,"` + strings.Repeat("x", 500) + `":1`), reason: ReasonUnknownField, detail: "..."},

		{name: "same sensor twice", payload: msg(okTS, wl712+","+wl("9.5", "m")), reason: ReasonDuplicateSensor, detail: "readings[1]: sensor water_level twice"},
		{name: "same sensor twice in other units", payload: msg(okTS, wl712+","+wl("712", "cm")), reason: ReasonDuplicateSensor},
		{name: "two sensors fine", payload: msg(okTS, wl712+","+rain)},
		{name: "batch same sensor same ms in two messages", payload: "[" + msg(okTS, wl712) + "," + strings.Replace(msg(okTS, wl("8", "m")), `"seq":7`, `"seq":8`, 1) + "]",
			reason: ReasonDuplicateSensor, detail: "batch[1]: water_level at 2025-10-28T02:50:00Z also in batch[0]"},
		{name: "batch same ts different sensors", payload: "[" + msg(okTS, wl712) + "," + strings.Replace(msg(okTS, rain), `"seq":7`, `"seq":8`, 1) + "]"},
		{name: "batch repeat of one message", payload: "[" + msg(okTS, wl712) + "," + msg(okTS, wl712) + "]"},

		{name: "rssi -87", payload: obj(`,"rssi":-87`)},
		{name: "rssi at -200", payload: obj(`,"rssi":-200`)},
		{name: "rssi at 0", payload: obj(`,"rssi":0`)},
		{name: "rssi -201", payload: obj(`,"rssi":-201`), reason: ReasonOutOfBounds, detail: "rssi -201 dBm outside [-200, 0]"},
		{name: "rssi positive", payload: obj(`,"rssi":1`), reason: ReasonOutOfBounds},
		{name: "rssi huge", payload: obj(`,"rssi":99999999999999999999`), reason: ReasonOutOfBounds},
		{name: "rssi fraction", payload: obj(`,"rssi":-87.5`), reason: ReasonBadJSON},
		{name: "rssi string", payload: obj(`,"rssi":"-87"`), reason: ReasonBadJSON},
		{name: "rssi null", payload: obj(`,"rssi":null`), reason: ReasonBadJSON},
		{name: "battery 60 V", payload: obj(`,"battery":60`)},
		{name: "battery negative", payload: obj(`,"battery":-0.1`), reason: ReasonOutOfBounds},
		{name: "battery 1e999", payload: obj(`,"battery":1e999`), reason: ReasonNotFinite},
		{name: "battery NaN string", payload: obj(`,"battery":"NaN"`), reason: ReasonBadJSON},
		{name: "battery null", payload: obj(`,"battery":null`), reason: ReasonBadJSON},
		{name: "boot null", payload: obj(`,"boot":null`), reason: ReasonBadJSON},
		{name: "boot above 2^32", payload: obj(`,"boot":4294967296`), reason: ReasonBadJSON},
		{name: "unit null", payload: msg(okTS, `{"sensor":"water_level","value":7,"unit":null}`), reason: ReasonBadJSON},
		{name: "readings null", payload: `{` + base + `,"readings":null,"battery":3.9}`, reason: ReasonBadJSON},
		{name: "reading null", payload: msg(okTS, `null`), reason: ReasonBadJSON},
		{name: "reading array", payload: msg(okTS, `[]`), reason: ReasonBadJSON},
		{name: "control character in string", payload: "{\"v\":1,\"station\":\"ST-1\t\"}", reason: ReasonBadJSON},
		{name: "lone surrogate escape", payload: msg(okTS, wl("7", `m\ud800`)), reason: ReasonBadUTF8},
		{name: "escaped unit decoded", payload: `{"v":1,"station":"ST-2","seq":1,"ts":` + okTS + `,"readings":[{"sensor":"tilt","value":1,"unit":"\u00b0"}]}`,
			topic: "stations/ST-2/readings", check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], Tilt, 1, "deg") }},
		{name: "surrogate pair escape", payload: msg(okTS, wl("7", `\ud83d\ude00`)), reason: ReasonBadUnit, detail: "\U0001F600"},
		{name: "trailing comma in object", payload: `{"v":1,}`, reason: ReasonBadJSON},
		{name: "trailing comma in array", payload: msg(okTS, wl712+`,`), reason: ReasonBadJSON},
		{name: "leading zero", payload: obj(`,"boot":01`), reason: ReasonBadJSON},
		{name: "single quotes", payload: `{'v':1}`, reason: ReasonBadJSON},
		{name: "empty unit", payload: msg(okTS, wl("7", "")), reason: ReasonBadUnit, detail: "empty unit"},
		{name: "ts with a decimal comma", payload: msg(`"2025-10-28T02:50:00,5Z"`, wl712), reason: ReasonBadTimestamp},
	})
}

// TestDecodeSenMLStrict applies the same strictness to SenML packs.
func TestDecodeSenMLStrict(t *testing.T) {
	abs := testNow.Add(-10 * time.Minute).Unix()
	runDecodeCases(t, []decodeCase{
		{name: "duplicate v", topic: senml1, payload: `[{"n":"water_level","v":7,"v":900}]`, reason: ReasonDuplicateKey, detail: "senml[0]: "},
		{name: "duplicate n", topic: senml1, payload: `[{"n":"water_level","n":"rainfall","v":7}]`, reason: ReasonDuplicateKey},
		{name: "duplicate bt", topic: senml1, payload: fmt.Sprintf(`[{"bt":%d,"bt":0,"n":"water_level","v":7}]`, abs), reason: ReasonDuplicateKey},
		{name: "duplicate extension", topic: senml1, payload: `[{"n":"water_level","v":7,"x":1,"x":2}]`, reason: ReasonDuplicateKey},
		{name: "V capitalised", topic: senml1, payload: `[{"n":"water_level","V":7}]`, reason: ReasonUnknownField, detail: `"V" is not "v"`},
		{name: "N next to n", topic: senml1, payload: `[{"n":"water_level","v":7,"N":"tilt"}]`, reason: ReasonUnknownField},
		{name: "BT capitalised", topic: senml1, payload: `[{"BT":1,"n":"water_level","v":7}]`, reason: ReasonUnknownField},
		{name: "must-understand label", topic: senml1, payload: `[{"n":"water_level","v":7,"x_":1}]`, reason: ReasonUnknownField, detail: "must be understood"},
		{name: "extension with an object", topic: senml1, payload: `[{"n":"water_level","v":7,"x":{}}]`, reason: ReasonBadJSON},
		{name: "32 members", topic: senml1, payload: `[{"n":"water_level","v":7` + extLabels(30) + `}]`, reason: ReasonOversize, detail: "more than 31 members"},
		{name: "31 members", topic: senml1, payload: `[{"n":"water_level","v":7` + extLabels(29) + `}]`},
		{name: "vb not boolean", topic: senml1, payload: `[{"n":"water_level","v":7,"vb":1}]`, reason: ReasonBadJSON},
		{name: "vs not string", topic: senml1, payload: `[{"n":"water_level","v":7,"vs":1}]`, reason: ReasonBadJSON},
		{name: "bver zero", topic: senml1, payload: `[{"bver":0,"n":"water_level","v":7}]`, reason: ReasonOutOfBounds},
		{name: "bn not a string", topic: senml1, payload: `[{"bn":1,"n":"water_level","v":7}]`, reason: ReasonBadJSON},
		{name: "t string", topic: senml1, payload: `[{"n":"water_level","v":7,"t":"0"}]`, reason: ReasonBadJSON},
		{name: "same name same time", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"water_level","v":9}]`, reason: ReasonDuplicateSensor, detail: "senml[1]: water_level twice"},
		{name: "same name same ms", topic: senml1, payload: fmt.Sprintf(`[{"bt":%d,"n":"water_level","v":7},{"n":"water_level","v":9,"t":0.0004}]`, abs), reason: ReasonDuplicateSensor},
		{name: "same name via prefix and base name", topic: senml1, payload: `[{"n":"ST-1:water_level","v":7},{"bn":"ST-1/","n":"water_level","v":9}]`, reason: ReasonDuplicateSensor},
		{name: "same name other time", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"water_level","v":9,"t":-600}]`,
			check: func(t *testing.T, recs []Record) {
				if len(recs) != 2 {
					t.Fatalf("%d records", len(recs))
				}
			}},
		{name: "seq twice", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":1},{"n":"seq","v":2}]`, reason: ReasonDuplicateSensor, detail: "seq twice"},
		{name: "battery twice", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"battery","v":3.9},{"n":"battery","v":4}]`, reason: ReasonDuplicateSensor},
		{name: "base value added", topic: senml1, payload: `[{"bv":7,"n":"water_level","v":0.12}]`,
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], WaterLevel, 7.12, "m") }},
		{name: "base value 1e999", topic: senml1, payload: `[{"bv":1e999,"n":"water_level","v":1}]`, reason: ReasonNotFinite},
		{name: "record not an object", topic: senml1, payload: `[{"n":"water_level","v":7},1]`, reason: ReasonBadJSON, detail: "senml[1]: "},
		{name: "trailing data", topic: senml1, payload: `[{"n":"water_level","v":7}]]`, reason: ReasonBadJSON},
	})
}

func extLabels(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `,"x%d":%d`, i, i)
	}
	return sb.String()
}

// TestDecodeBarrage lists the fault-injection suite's hostile inputs, each
// with the one reason it must produce. The deep and long inputs also run
// with no payload limit, to show the structure checks alone bound them
// (the scanner never recurses and never follows nesting the format does
// not have).
func TestDecodeBarrage(t *testing.T) {
	deep := func(open string, n int) string { return strings.Repeat(open, n) }
	wrap := func(readings string) string { return msg(okTS, readings) }
	bigBatch := "[" + strings.TrimSuffix(strings.Repeat(msg(okTS, wl712)+",", 10000), ",") + "]"
	emptyBatch := "[" + strings.TrimSuffix(strings.Repeat("{},", 10000), ",") + "]"
	cases := []struct {
		name, topic, payload string
		reason               Reason // with the default options
		unlimited            Reason // with MaxPayload 0 (no size limit); "" to skip
	}{
		{"truncated object", topic1, `{"v":1,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[{"sensor":"water_le`, ReasonBadJSON, ReasonBadJSON},
		{"truncated after a comma", topic1, `{"v":1,`, ReasonBadJSON, ReasonBadJSON},
		{"truncated number", topic1, `{"v":1,"station":"ST-1","seq":-`, ReasonBadJSON, ReasonBadJSON},
		{"truncated escape", topic1, `{"v":1,"station":"ST-1\u00`, ReasonBadJSON, ReasonBadJSON},
		{"truncated senml", senml1, `[{"n":"water_level","v":7`, ReasonBadJSON, ReasonBadJSON},
		{"invalid UTF-8", topic1, wrap(wl("7", "m\xff")), ReasonBadUTF8, ""},
		{"invalid UTF-8 senml", senml1, "[{\"n\":\"\xc3\x28\",\"v\":7}]", ReasonBadUTF8, ""},
		{"NaN string", topic1, wrap(wl(`"NaN"`, "m")), ReasonNotFinite, ""},
		{"NaN bare", topic1, wrap(wl(`NaN`, "m")), ReasonBadJSON, ""},
		{"Infinity bare", topic1, wrap(wl(`Infinity`, "m")), ReasonBadJSON, ""},
		{"1e999", topic1, wrap(wl(`1e999`, "m")), ReasonNotFinite, ""},
		{"1e999 senml", senml1, `[{"n":"water_level","v":1e999}]`, ReasonNotFinite, ""},
		{"string for a number", topic1, wrap(wl(`"7.12"`, "m")), ReasonBadJSON, ""},
		{"string for seq", topic1, `{"v":1,"station":"ST-1","seq":"7","ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadJSON, ""},
		{"string for v", topic1, `{"v":"1","station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadJSON, ""},
		{"station id with a newline in the topic", "stations/ST-1\n/readings", wrap(wl712), ReasonBadStationID, ""},
		{"station id with a newline in the payload", topic1, `{"v":1,"station":"ST-1\n","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadStationID, ""},
		{"plus wildcard in the topic", "stations/+/readings", wrap(wl712), ReasonBadStationID, ""},
		{"hash wildcard in the topic", "stations/#/senml", `[{"n":"water_level","v":7}]`, ReasonBadStationID, ""},
		{"plus in the payload station", topic1, `{"v":1,"station":"+","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadStationID, ""},
		{"hash in the payload station", topic1, `{"v":1,"station":"ST-1/#","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadStationID, ""},
		{"unknown version", topic1, `{"v":2,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":[` + wl712 + `]}`, ReasonBadVersion, ""},
		{"unknown sensor", topic1, wrap(`{"sensor":"radiation","value":1}`), ReasonUnknownSensor, ""},
		{"undeclared sensor", topic1, wrap(`{"sensor":"tilt","value":1}`), ReasonUndeclaredSensor, ""},
		{"undeclared sensor senml", senml1, `[{"n":"tilt","v":1}]`, ReasonUndeclaredSensor, ""},
		{"2 MB payload", topic1, wrap(wl712) + strings.Repeat(" ", 2<<20), ReasonOversize, ""},
		{"100,000-deep arrays", topic1, deep("[", 100000), ReasonOversize, ReasonBadJSON},
		{"100,000-deep arrays closed", topic1, deep("[", 100000) + deep("]", 100000), ReasonOversize, ReasonBadJSON},
		{"100,000-deep objects", topic1, deep(`{"v":`, 100000), ReasonOversize, ReasonBadJSON},
		{"100,000-deep in readings", topic1, `{"v":1,"station":"ST-1","seq":7,"ts":` + okTS + `,"readings":` + deep("[", 100000), ReasonOversize, ReasonBadJSON},
		{"100,000-deep in value", topic1, wrap(`{"sensor":"water_level","value":` + deep("[", 100000)), ReasonOversize, ReasonBadJSON},
		{"100,000-deep in ts", topic1, `{"v":1,"station":"ST-1","seq":7,"ts":` + deep("[", 100000), ReasonOversize, ReasonBadTimestamp},
		{"100,000-deep senml", senml1, deep("[", 100000), ReasonOversize, ReasonBadJSON},
		{"100,000-deep senml extension", senml1, `[{"n":"water_level","v":7,"x":` + deep(`{"x":`, 100000), ReasonOversize, ReasonBadJSON},
		{"batch of 10,000", topic1, bigBatch, ReasonOversize, ReasonOversize},
		{"60,000-deep arrays within the size limit", topic1, deep("[", 60000), ReasonBadJSON, ReasonBadJSON},
		{"30,000-deep in value within the size limit", topic1, wrap(`{"sensor":"water_level","value":` + deep("[", 30000)), ReasonBadJSON, ReasonBadJSON},
		{"10,000-deep objects within the size limit", senml1, `[{"n":"water_level","v":7,"x":` + deep(`{"x":`, 10000), ReasonBadJSON, ReasonBadJSON},
		{"batch of 10,000 empty objects", topic1, emptyBatch, ReasonOversize, ReasonOversize},
		{"senml pack of 10,000", senml1, "[" + strings.TrimSuffix(strings.Repeat(`{"n":"water_level","v":7},`, 10000), ",") + "]", ReasonOversize, ReasonOversize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := testDecoder(t)
			runs := []struct {
				max    int
				reason Reason
			}{{d.Opts.MaxPayload, c.reason}, {0, c.unlimited}}
			for _, run := range runs {
				if run.reason == "" {
					continue
				}
				d.Opts.MaxPayload = run.max
				recs, err := d.Decode(c.topic, []byte(c.payload), testNow)
				if recs != nil || ReasonOf(err) != run.reason {
					t.Fatalf("MaxPayload %d: %d records, %v; want %s", run.max, len(recs), truncate(fmt.Sprint(err), 300), run.reason)
				}
				if re := err.(*RejectError); len(re.Detail) > 600 {
					t.Fatalf("detail of %d bytes", len(re.Detail))
				}
			}
		})
	}
}
