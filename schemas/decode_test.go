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
		{name: "battery in mV inside readings stays a reading", payload: msg(okTS, `{"sensor":"battery","value":3900,"unit":"mV"}`),
			check: func(t *testing.T, recs []Record) { wantReading(t, recs[0].Readings[0], Battery, 3.9, "V") }},
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
		{name: "empty sensor", payload: msg(okTS, `{"value":1}`), reason: ReasonUnknownSensor},
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
	if ReasonOf(err) != ReasonOversize || !strings.Contains(err.Error(), "batch of 3 > 2") {
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
		{name: "unknown fields ignored", topic: senml1, payload: `[{"bver":10,"n":"water_level","v":7.12,"ut":600,"x_":1}]`},

		{name: "base name of another station", topic: senml1, payload: `[{"bn":"ST-2:","n":"water_level","v":7}]`, reason: ReasonStationMismatch, detail: "ST-2"},
		{name: "base name without separator", topic: senml1, payload: `[{"bn":"ST-1","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "base name with extra separators", topic: senml1, payload: `[{"bn":"ST-1::","n":"water_level","v":7}]`, reason: ReasonUnknownSensor},
		{name: "base name changes mid-pack", topic: senml1, payload: `[{"bn":"ST-1:","n":"water_level","v":7},{"bn":"ST-2:","n":"water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "prefixed name of another station", topic: senml1, payload: `[{"n":"ST-2/water_level","v":7}]`, reason: ReasonStationMismatch},
		{name: "seq record alone at its time", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":5,"t":-1}]`, reason: ReasonMissingField, detail: "no reading"},
		{name: "seq negative", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":-5}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "seq fractional", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":1.5}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "seq too large", topic: senml1, payload: `[{"n":"water_level","v":7},{"n":"seq","v":1e300}]`, reason: ReasonBadJSON, detail: "seq"},
		{name: "string value only", topic: senml1, payload: `[{"n":"water_level","vs":"7"}]`, reason: ReasonMissingField, detail: "senml[0].v"},
		{name: "value as string", topic: senml1, payload: `[{"n":"water_level","v":"NaN"}]`, reason: ReasonBadJSON},
		{name: "value 1e999", topic: senml1, payload: `[{"n":"water_level","v":1e999}]`, reason: ReasonBadJSON},
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
	for _, r := range AllReasons {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) || strings.ContainsAny(string(r), " .-") {
			t.Fatalf("reason %q duplicate or not a snake_case label", r)
		}
		seen[r] = true
	}
}

// TestDecodeCoversAllReasons checks that the decoder tests above exercise
// every reason in AllReasons.
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
	}
	for _, in := range inputs {
		_, err := d.Decode(in.topic, []byte(in.payload), testNow)
		produced[ReasonOf(err)] = true
	}
	for _, r := range AllReasons {
		if !produced[r] {
			t.Errorf("no input produced %s", r)
		}
	}
}
