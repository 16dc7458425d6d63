package lineproto_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/schemas"
)

// TestParseLineRoundTrip: every line the package appends parses back to
// what it was given (one codec for writing and for the backtest readers).
func TestParseLineRoundTrip(t *testing.T) {
	rec := rec2()
	rec.Battery, rec.RSSI = f64(3.9), intp(-81)
	b, err := lineproto.AppendReading(nil, tags, rec, []int{1, 3}, true)
	if err != nil {
		t.Fatal(err)
	}
	ev := &schemas.AlertEvent{ID: `a "quoted" id`, EventID: `e\1`, Kind: schemas.AlertFired, Station: "DN-HOAPHUOC",
		Rule: "level:water_level", Sensor: schemas.WaterLevel, Severity: schemas.SeveritySevere, Level: 2,
		Value: 8.42, Threshold: 8, StartedAt: ts, At: ts.Add(time.Minute), District: "Hoà Vang", Basin: "vu-gia-thu-bon",
		Message: "line one\nline two"}
	b = lineproto.AppendAlert(b, ev)
	b = lineproto.AppendNotice(b, tags, "seq_gap", `boot 1: seq 5 after 3, "2" missing`, ts)
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b)
	}
	var pts []lineproto.Point
	for i, l := range lines {
		p, err := lineproto.ParseLine(l)
		if err != nil {
			t.Fatalf("line %d: %v: %q", i, err, l)
		}
		pts = append(pts, p)
	}
	type want struct {
		meas   string
		tags   map[string]string
		fields map[string]any
		time   int64
	}
	msTS := ts.UnixMilli()
	st := map[string]string{"station": "DN-HOAPHUOC", "district": "Hoà Vang", "basin": "vu-gia-thu-bon"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range st {
			m[a] = b
		}
		return m
	}
	wants := []want{
		{"reading", with("sensor", "water_level"), map[string]any{"value": 8.42, "seq": int64(1024), "quality": int64(1), "late": true}, msTS},
		{"reading", with("sensor", "rainfall"), map[string]any{"value": 12.5, "seq": int64(1024), "quality": int64(3), "late": true}, msTS},
		{"device", st, map[string]any{"battery": 3.9, "rssi": int64(-81), "seq": int64(1024)}, msTS},
		{"alert", map[string]string{"station": "DN-HOAPHUOC", "district": "Hoà Vang", "basin": "vu-gia-thu-bon", "kind": "fired",
			"rule": "level:water_level", "sensor": "water_level", "severity": "Severe"},
			map[string]any{"id": `a "quoted" id`, "event_id": `e\1`, "level": int64(2), "value": 8.42, "threshold": 8.0,
				"started_at": msTS, "message": "line one line two"}, msTS + 60000},
		{"notice", with("kind", "seq_gap"), map[string]any{"detail": `boot 1: seq 5 after 3, "2" missing`}, msTS},
	}
	for i, w := range wants {
		p := pts[i]
		if p.Measurement != w.meas || !p.HasTime || p.Time != w.time {
			t.Errorf("line %d: measurement %q time %d (%v), want %q %d", i, p.Measurement, p.Time, p.HasTime, w.meas, w.time)
		}
		if len(p.Tags) != len(w.tags) {
			t.Errorf("line %d: tags %+v, want %v", i, p.Tags, w.tags)
		}
		for k, v := range w.tags {
			if got := p.Tag(k); got != v {
				t.Errorf("line %d: tag %s = %q, want %q", i, k, got, v)
			}
		}
		if len(p.Fields) != len(w.fields) {
			t.Errorf("line %d: fields %+v, want %v", i, p.Fields, w.fields)
		}
		for k, v := range w.fields {
			f, ok := p.Field(k)
			if !ok {
				t.Errorf("line %d: no field %s", i, k)
				continue
			}
			var got any
			switch f.Kind {
			case lineproto.FieldFloat:
				got = f.Float
			case lineproto.FieldInt:
				got = f.Int
			case lineproto.FieldBool:
				got = f.Bool
			case lineproto.FieldString:
				got = f.Str
			}
			if got != v {
				t.Errorf("line %d: field %s = %#v, want %#v", i, k, got, v)
			}
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, in := range []string{
		"", "reading", "reading ", ",a=b x=1", "m,a x=1", "m,=b x=1", "m,a= x=1", "m x", "m x=", "m x=1 12a",
		`m x="unterminated`, "m x=1i2", "m x=1,", "m x=1  1", "m x=zz",
	} {
		if _, err := lineproto.ParseLine([]byte(in)); !errors.Is(err, lineproto.ErrSyntax) {
			t.Errorf("%q: err %v, want ErrSyntax", in, err)
		}
	}
	p, err := lineproto.ParseLine([]byte(`m\ x\,y,t\=k=v\ 1\,2 f\ k=1u,b=t`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Measurement != "m x,y" || p.Tag("t=k") != "v 1,2" || p.HasTime {
		t.Fatalf("%+v", p)
	}
	if f, _ := p.Field("f k"); f.Kind != lineproto.FieldUint || f.Uint != 1 {
		t.Fatalf("%+v", f)
	}
	if f, _ := p.Field("b"); f.Kind != lineproto.FieldBool || !f.Bool {
		t.Fatalf("%+v", f)
	}
}

// FuzzParseLine: arbitrary input never panics; arbitrary tag strings written
// by AppendNotice parse back as InfluxDB 2 would store them.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte("reading,station=A value=1,seq=2i 3"), "DN-HOAPHUOC", "seq gap")
	f.Add([]byte(`m\ x,t=a\\,b f="q\"\\" 1`), `x\`, "a\"b\\c")
	f.Add([]byte("m f=1e999"), "a\nb", "\r\n")
	f.Fuzz(func(t *testing.T, line []byte, tagv, detail string) {
		_, _ = lineproto.ParseLine(line)
		b := lineproto.AppendNotice(nil, lineproto.StationTags{Station: tagv, District: "d"}, "k", detail, ts)
		p, err := lineproto.ParseLine(bytes.TrimSuffix(b, []byte("\n")))
		if err != nil {
			t.Fatalf("appended line does not parse: %v: %q", err, b)
		}
		if tagv != "" && p.Tag("station") != influxTagValue(tagv) {
			t.Fatalf("station tag %q parsed as %q, want %q", tagv, p.Tag("station"), influxTagValue(tagv))
		}
		if _, tg, err := influx2SeriesKey(bytes.TrimSuffix(b, []byte("\n"))); err == nil && tagv != "" && tg["station"] != p.Tag("station") {
			t.Fatalf("InfluxDB reads station %q, ParseLine %q", tg["station"], p.Tag("station"))
		}
		fd, ok := p.Field("detail")
		if !ok || fd.Kind != lineproto.FieldString || fd.Str != stringFieldValue(detail) {
			t.Fatalf("detail %q parsed as %+v", detail, fd)
		}
	})
}

// stringFieldValue is what a string field holds after appendString: line
// breaks become spaces.
func stringFieldValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' || c == '\f' {
			b[i] = ' '
		}
	}
	return string(b)
}
