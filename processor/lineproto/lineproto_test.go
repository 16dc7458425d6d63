package lineproto_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	protocol "github.com/influxdata/line-protocol"

	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/schemas"
)

// ts is 2026-10-28T02:50:00Z; tsMS its epoch milliseconds, written out so
// that the expected lines below are literal.
var ts = time.Date(2026, 10, 28, 2, 50, 0, 0, time.UTC)

const tsMS = "1793155800000"

var tags = lineproto.StationTags{Station: "DN-HOAPHUOC", District: "Hoà Vang", Basin: "vu-gia-thu-bon"}

func f64(v float64) *float64 { return &v }
func intp(v int) *int        { return &v }

func rec2() *schemas.Record {
	return &schemas.Record{V: 1, Station: "DN-HOAPHUOC", Seq: 1024, Boot: 3, TS: ts,
		Readings: []schemas.Measurement{
			{Sensor: schemas.WaterLevel, Value: 8.42, Unit: "m"},
			{Sensor: schemas.Rainfall, Value: 12.5, Unit: "mm"},
		}}
}

func TestAppendReading(t *testing.T) {
	const tagsLP = `,basin=vu-gia-thu-bon,district=Hoà\ Vang`
	cases := []struct {
		name    string
		tags    lineproto.StationTags
		rec     *schemas.Record
		quality []int
		late    bool
		want    string
		wantErr error
	}{
		{
			name: "two readings with quality", tags: tags, rec: rec2(), quality: []int{1, 0},
			want: "reading" + tagsLP + ",sensor=water_level,station=DN-HOAPHUOC value=8.42,seq=1024i,quality=1i,late=false " + tsMS + "\n" +
				"reading" + tagsLP + ",sensor=rainfall,station=DN-HOAPHUOC value=12.5,seq=1024i,quality=0i,late=false " + tsMS + "\n",
		},
		{
			name: "missing quality entries mean 2, late flag", tags: tags, rec: rec2(), quality: []int{1}, late: true,
			want: "reading" + tagsLP + ",sensor=water_level,station=DN-HOAPHUOC value=8.42,seq=1024i,quality=1i,late=true " + tsMS + "\n" +
				"reading" + tagsLP + ",sensor=rainfall,station=DN-HOAPHUOC value=12.5,seq=1024i,quality=2i,late=true " + tsMS + "\n",
		},
		{
			name: "empty tags omitted", tags: lineproto.StationTags{Station: "X1"},
			rec:  &schemas.Record{Seq: 0, TS: ts, Readings: []schemas.Measurement{{Sensor: schemas.Tilt, Value: -0.5}}},
			want: "reading,sensor=tilt,station=X1 value=-0.5,seq=0i,quality=2i,late=false " + tsMS + "\n",
		},
		{
			name: "large and tiny values keep full precision", tags: lineproto.StationTags{Station: "X1"},
			rec: &schemas.Record{Seq: math.MaxInt64, TS: ts, Readings: []schemas.Measurement{
				{Sensor: schemas.Rainfall, Value: 99999.123456789}, {Sensor: schemas.WaterLevel, Value: 1e-9}}},
			want: "reading,sensor=rainfall,station=X1 value=99999.123456789,seq=9223372036854775807i,quality=2i,late=false " + tsMS + "\n" +
				"reading,sensor=water_level,station=X1 value=1e-09,seq=9223372036854775807i,quality=2i,late=false " + tsMS + "\n",
		},
		{
			// Line-protocol integers are signed: a larger seq must not make
			// InfluxDB refuse the batch.
			name: "seq above MaxInt64 stays a valid integer", tags: lineproto.StationTags{Station: "X1"},
			rec: &schemas.Record{Seq: math.MaxUint64, TS: ts, Readings: []schemas.Measurement{{Sensor: schemas.Tilt, Value: 1}}, RSSI: intp(-1)},
			want: "reading,sensor=tilt,station=X1 value=1,seq=-1i,quality=2i,late=false " + tsMS + "\n" +
				"device,station=X1 rssi=-1i,seq=-1i " + tsMS + "\n",
		},
		{
			name: "battery and rssi device line", tags: tags,
			rec: &schemas.Record{Seq: 7, TS: ts, Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 2}},
				Battery: f64(3.92), RSSI: intp(-87)},
			want: "reading" + tagsLP + ",sensor=water_level,station=DN-HOAPHUOC value=2,seq=7i,quality=2i,late=false " + tsMS + "\n" +
				"device" + tagsLP + ",station=DN-HOAPHUOC battery=3.92,rssi=-87i,seq=7i " + tsMS + "\n",
		},
		{
			name: "battery-only heartbeat", tags: tags, rec: &schemas.Record{Seq: 8, TS: ts, Battery: f64(4.1)},
			want: "device" + tagsLP + ",station=DN-HOAPHUOC battery=4.1,seq=8i " + tsMS + "\n",
		},
		{
			name: "rssi only", tags: tags, rec: &schemas.Record{Seq: 9, TS: ts, RSSI: intp(-120)},
			want: "device" + tagsLP + ",station=DN-HOAPHUOC rssi=-120i,seq=9i " + tsMS + "\n",
		},
		{
			name: "NaN reading dropped, the rest written", tags: tags,
			rec: &schemas.Record{Seq: 10, TS: ts, Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: math.NaN()}, {Sensor: schemas.Rainfall, Value: 1}}},
			want:    "reading" + tagsLP + ",sensor=rainfall,station=DN-HOAPHUOC value=1,seq=10i,quality=2i,late=false " + tsMS + "\n",
			wantErr: lineproto.ErrNonFinite,
		},
		{
			name: "Inf readings dropped", tags: tags,
			rec: &schemas.Record{Seq: 11, TS: ts, Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: math.Inf(1)}, {Sensor: schemas.Rainfall, Value: math.Inf(-1)}}},
			want: "", wantErr: lineproto.ErrNonFinite,
		},
		{
			name: "quality index follows the reading, not the written line", tags: tags, quality: []int{0, 1},
			rec: &schemas.Record{Seq: 12, TS: ts, Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: math.NaN()}, {Sensor: schemas.Rainfall, Value: 1}}},
			want:    "reading" + tagsLP + ",sensor=rainfall,station=DN-HOAPHUOC value=1,seq=12i,quality=1i,late=false " + tsMS + "\n",
			wantErr: lineproto.ErrNonFinite,
		},
		{
			name: "NaN battery dropped, rssi kept", tags: tags, rec: &schemas.Record{Seq: 13, TS: ts, Battery: f64(math.NaN()), RSSI: intp(-70)},
			want: "device" + tagsLP + ",station=DN-HOAPHUOC rssi=-70i,seq=13i " + tsMS + "\n", wantErr: lineproto.ErrNonFinite,
		},
		{
			name: "Inf battery alone writes nothing", tags: tags, rec: &schemas.Record{Seq: 14, TS: ts, Battery: f64(math.Inf(1))},
			want: "", wantErr: lineproto.ErrNonFinite,
		},
		{
			name: "millisecond timestamp truncates sub-millisecond time", tags: lineproto.StationTags{Station: "X1"},
			rec:  &schemas.Record{Seq: 1, TS: ts.Add(1500 * time.Microsecond), Readings: []schemas.Measurement{{Sensor: schemas.Tilt, Value: 1}}},
			want: "reading,sensor=tilt,station=X1 value=1,seq=1i,quality=2i,late=false 1793155800001\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("existing\n")
			got, err := lineproto.AppendReading(append([]byte(nil), prefix...), tc.tags, tc.rec, tc.quality, tc.late)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("AppendReading did not append: %q", got)
			}
			if g := string(got[len(prefix):]); g != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", g, tc.want)
			}
			mustParse(t, got[len(prefix):], strings.Count(tc.want, "\n"))
		})
	}
}

func TestAppendAlert(t *testing.T) {
	started := ts.Add(-30 * time.Minute)
	base := schemas.AlertEvent{V: 1, ID: "DN-HOAPHUOC-0123456789abcdef", EventID: "DN-HOAPHUOC-0123456789abcdef:fired:2:1",
		Kind: schemas.AlertFired, Station: "DN-HOAPHUOC", Sensor: schemas.WaterLevel, Rule: "level", Level: 2,
		Severity: schemas.SeveritySevere, Value: 3.25, Threshold: 3, StartedAt: started, At: ts,
		District: "Hoà Vang", Basin: "vu-gia-thu-bon"}
	const head = `alert,basin=vu-gia-thu-bon,district=Hoà\ Vang,kind=fired,rule=level,sensor=water_level,severity=Severe,station=DN-HOAPHUOC`
	const ids = ` id="DN-HOAPHUOC-0123456789abcdef",event_id="DN-HOAPHUOC-0123456789abcdef:fired:2:1",level=2i`
	cases := []struct {
		name string
		mut  func(*schemas.AlertEvent)
		want string
	}{
		{"fired", func(*schemas.AlertEvent) {},
			head + ids + ",value=3.25,threshold=3,started_at=1793154000000i " + tsMS + "\n"},
		{"message escaped", func(e *schemas.AlertEvent) { e.Message = `Mực nước "BĐ II" at C:\gauge` + "\nline2\r" },
			head + ids + `,value=3.25,threshold=3,started_at=1793154000000i,message="Mực nước \"BĐ II\" at C:\\gauge line2 " ` + tsMS + "\n"},
		{"non-finite value and threshold dropped", func(e *schemas.AlertEvent) { e.Value = math.NaN(); e.Threshold = math.Inf(1) },
			head + ids + ",started_at=1793154000000i " + tsMS + "\n"},
		{"no sensor, no district", func(e *schemas.AlertEvent) {
			e.Sensor = ""
			e.District = ""
			e.Kind = schemas.AlertResolved
			e.Level = 0
		},
			`alert,basin=vu-gia-thu-bon,kind=resolved,rule=level,severity=Severe,station=DN-HOAPHUOC` +
				` id="DN-HOAPHUOC-0123456789abcdef",event_id="DN-HOAPHUOC-0123456789abcdef:fired:2:1",level=0i,value=3.25,threshold=3,started_at=1793154000000i ` + tsMS + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			tc.mut(&e)
			got := string(lineproto.AppendAlert(nil, &e))
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			ms := mustParse(t, []byte(got), 1)
			if e.Message != "" {
				want := strings.NewReplacer("\n", " ", "\r", " ").Replace(e.Message)
				if v, _ := field(ms[0], "message"); v != want {
					t.Errorf("message field round trip = %q, want %q", v, want)
				}
			}
		})
	}
}

func TestAppendNotice(t *testing.T) {
	cases := []struct {
		name           string
		tags           lineproto.StationTags
		kind, detail   string
		want           string
		wantDetailBack string
	}{
		{"seq gap", tags, "seq_gap", "missed 3 (seq 10..12)",
			`notice,basin=vu-gia-thu-bon,district=Hoà\ Vang,kind=seq_gap,station=DN-HOAPHUOC detail="missed 3 (seq 10..12)" ` + tsMS + "\n",
			"missed 3 (seq 10..12)"},
		{"hostile kind and detail", lineproto.StationTags{Station: "X1"}, "a,b=c d\ne", "x\"y\\z\nnotice,station=EVIL detail=\"\" 1",
			`notice,kind=a\,b\=c\ d_e,station=X1 detail="x\"y\\z notice,station=EVIL detail=\"\" 1" ` + tsMS + "\n",
			"x\"y\\z notice,station=EVIL detail=\"\" 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(lineproto.AppendNotice(nil, tc.tags, tc.kind, tc.detail, ts))
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			ms := mustParse(t, []byte(got), 1)
			if v, _ := field(ms[0], "detail"); v != tc.wantDetailBack {
				t.Errorf("detail round trip = %q, want %q", v, tc.wantDetailBack)
			}
		})
	}
}

// Tag values are escaped (comma, space, equals, backslash) and line breaks
// replaced, so no station, district or basin string can add a point.
func TestTagEscaping(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"comma", "a,b", `a\,b`},
		{"space", "Hoà Vang", `Hoà\ Vang`},
		{"equals", "k=v", `k\=v`},
		{"backslash", `C:\x`, `C:\x`},
		{"backslash before an escaped byte", `a\,b\ c\=d`, `a\\,b\\ c\\=d`},
		{"trailing backslash cannot escape the separator", `x\`, `x_`},
		{"only backslashes", `\\`, `\_`},
		{"newline", "a\nreading,station=EVIL value=1 1", `a_reading\,station\=EVIL\ value\=1\ 1`},
		{"carriage return, tab, form feed", "a\rb\tc\fd", "a_b_c_d"},
		{"everything", "a, =\\\n", `a\,\ \=\_`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &schemas.Record{Seq: 1, TS: ts, Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 1}}, RSSI: intp(-1)}
			tg := lineproto.StationTags{Station: tc.in, District: tc.in, Basin: tc.in}
			got, err := lineproto.AppendReading(nil, tg, rec, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			want := "reading,basin=" + tc.want + ",district=" + tc.want + ",sensor=water_level,station=" + tc.want +
				" value=1,seq=1i,quality=2i,late=false " + tsMS + "\n" +
				"device,basin=" + tc.want + ",district=" + tc.want + ",station=" + tc.want + " rssi=-1i,seq=1i " + tsMS + "\n"
			if string(got) != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
			mustParse(t, got, 2)
			for _, l := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
				_, tg, err := influx2SeriesKey(l)
				if err != nil {
					t.Fatalf("InfluxDB 2 would refuse %q: %v", l, err)
				}
				for _, k := range []string{"station", "district", "basin"} {
					if tg[k] != influxTagValue(tc.in) {
						t.Errorf("%s tag parses back as %q, want %q", k, tg[k], influxTagValue(tc.in))
					}
				}
			}
			alert := lineproto.AppendAlert(nil, &schemas.AlertEvent{Kind: schemas.AlertFired, Station: tc.in, Rule: tc.in, Severity: "Minor", At: ts, StartedAt: ts})
			mustParse(t, alert, 1)
			notice := lineproto.AppendNotice(nil, tg, tc.in, tc.in, ts)
			mustParse(t, notice, 1)
		})
	}
}

func TestTagsOf(t *testing.T) {
	reg, err := schemas.NewRegistry([]schemas.Station{{ID: "S1", Basin: "han", District: "Hải Châu", Lat: 16, Lon: 108,
		Interval: time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lineproto.TagsOf(reg, "S1"); got != (lineproto.StationTags{Station: "S1", District: "Hải Châu", Basin: "han"}) {
		t.Errorf("TagsOf(S1) = %+v", got)
	}
	if got := lineproto.TagsOf(reg, "S2"); got != (lineproto.StationTags{Station: "S2"}) {
		t.Errorf("TagsOf(unknown) = %+v", got)
	}
}

// The same input gives the same bytes (InfluxDB then overwrites the point:
// writes are idempotent).
func TestDeterministic(t *testing.T) {
	rec := rec2()
	rec.Battery, rec.RSSI = f64(3.7), intp(-90)
	e := &schemas.AlertEvent{ID: "a", EventID: "b", Kind: schemas.AlertEscalated, Station: "S", Rule: "r", Level: 3,
		Severity: schemas.SeverityExtreme, Value: 4.5, Threshold: 4, StartedAt: ts, At: ts.Add(time.Minute), Message: "m"}
	var first []byte
	for i := range 50 {
		b, err := lineproto.AppendReading(nil, tags, rec, []int{1, 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		b = lineproto.AppendAlert(b, e)
		b = lineproto.AppendNotice(b, tags, "gap", "d", ts)
		if i == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, b, first)
		}
	}
}

// influxTagValue is what InfluxDB 2 stores for a tag value written by
// lineproto: the value itself, with line breaks and tabs as '_' and a
// trailing backslash (which no line can carry) as '_'.
func influxTagValue(s string) string {
	s = strings.NewReplacer("\n", "_", "\r", "_", "\t", "_", "\f", "_").Replace(s)
	if strings.HasSuffix(s, `\`) {
		s = s[:len(s)-1] + "_"
	}
	return s
}

// influx2SeriesKey splits a line's measurement and tags the way InfluxDB
// 2's parser does (models.scanKey, scanTagsValue, unescapeTag in
// influxdb/v2/models/points.go): a byte is escaped when the byte before it
// is a backslash; tag values are then unescaped for `\,`, `\ ` and `\=`
// only. It reports the errors InfluxDB would refuse the line with.
func influx2SeriesKey(l []byte) (string, map[string]string, error) {
	escaped := func(i int) bool { return i > 0 && l[i-1] == '\\' }
	end := -1
	for i := range l {
		if l[i] == ' ' && !escaped(i) {
			end = i
			break
		}
	}
	if end < 0 {
		return "", nil, errors.New("missing fields")
	}
	var parts [][]byte
	start := 0
	for i := 0; i < end; i++ {
		if l[i] == ',' && !escaped(i) {
			parts = append(parts, l[start:i])
			start = i + 1
		}
	}
	parts = append(parts, l[start:end])
	tags := map[string]string{}
	off := len(parts[0]) + 1
	for _, p := range parts[1:] {
		eq := -1
		for j := range p {
			if p[j] == '=' && !escaped(off+j) {
				if eq >= 0 {
					return "", nil, fmt.Errorf("invalid tag format in %q", p)
				}
				eq = j
			}
		}
		if eq <= 0 || eq == len(p)-1 {
			return "", nil, fmt.Errorf("missing tag key or value in %q", p)
		}
		v := p[eq+1:]
		for _, c := range []string{",", " ", "="} {
			v = bytes.ReplaceAll(v, []byte(`\`+c), []byte(c))
		}
		tags[string(p[:eq])] = string(v)
		off += len(p) + 1
	}
	if unescapedSpaces(l[end+1:]) != 1 {
		return "", nil, fmt.Errorf("want fields and a timestamp after the series key: %q", l[end+1:])
	}
	return string(parts[0]), tags, nil
}

// mustParse parses b with the reference line-protocol parser and checks it
// holds exactly n points, one per line.
func mustParse(t testing.TB, b []byte, n int) []protocol.Metric {
	t.Helper()
	if c := bytes.Count(b, []byte("\n")); c != n {
		t.Fatalf("%d lines, want %d:\n%q", c, n, b)
	}
	if bytes.ContainsRune(b, '\r') {
		t.Fatalf("carriage return in output: %q", b)
	}
	h := protocol.NewMetricHandler()
	h.SetTimePrecision(time.Millisecond)
	ms, err := protocol.NewParser(h).Parse(b)
	if err != nil {
		t.Fatalf("output does not parse as line protocol: %v\n%q", err, b)
	}
	if len(ms) != n {
		t.Fatalf("parsed %d points, want %d:\n%q", len(ms), n, b)
	}
	return ms
}

// FuzzAppendReadingTags: arbitrary tag strings never produce more than one
// line per measurement, and the output stays valid line protocol whose
// station tag is the (sanitised) input.
func FuzzAppendReadingTags(f *testing.F) {
	f.Add("DN-HOAPHUOC", "Hoà Vang", "vu-gia-thu-bon")
	f.Add("a\nb", "c,d", "e f")
	f.Add(`x\`, "=", "\r\n")
	f.Add("", "", "")
	f.Add("a\\ b", "\\\\", "\\,")
	f.Add("\xff\xfe", "\x00", "\"")
	f.Fuzz(func(t *testing.T, station, district, basin string) {
		rec := rec2()
		rec.Battery = f64(3.9)
		tg := lineproto.StationTags{Station: station, District: district, Basin: basin}
		b, err := lineproto.AppendReading(nil, tg, rec, []int{1, 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		if len(lines) != 3 || !bytes.HasSuffix(b, []byte("\n")) {
			t.Fatalf("%d lines for 2 readings and a device line:\n%q", len(lines), b)
		}
		for i, l := range lines {
			want := "reading,"
			if i == 2 {
				want = "device,"
			}
			if !bytes.HasPrefix(l, []byte(want)) && !(station == "" && district == "" && basin == "" && i == 2) {
				t.Fatalf("line %d does not start with %q: %q", i, want, l)
			}
			if !bytes.HasSuffix(l, []byte(" "+tsMS)) {
				t.Fatalf("line %d does not end with the timestamp: %q", i, l)
			}
			if sp := unescapedSpaces(l); sp != 2 {
				t.Fatalf("line %d has %d unescaped spaces, want 2 (tags must not leak into fields): %q", i, sp, l)
			}
		}
		for i, l := range lines {
			meas, tg, err := influx2SeriesKey(l)
			if err != nil {
				t.Fatalf("line %d: InfluxDB 2 would refuse it: %v: %q", i, err, l)
			}
			if meas != "reading" && meas != "device" {
				t.Fatalf("line %d: measurement %q", i, meas)
			}
			for k, in := range map[string]string{"station": station, "district": district, "basin": basin} {
				got, ok := tg[k]
				if in == "" {
					if ok {
						t.Fatalf("line %d: empty %s written as a tag %q", i, k, got)
					}
					continue
				}
				if got != influxTagValue(in) {
					t.Fatalf("line %d: %s tag %q parses back as %q, want %q", i, k, in, got, influxTagValue(in))
				}
			}
		}
		if utf8.ValidString(station + district + basin) { // the reference parser refuses invalid UTF-8
			mustParse(t, b, 3)
		}
	})
}

// unescapedSpaces counts spaces not preceded by a backslash (InfluxDB's
// rule for tags: there is no escaped backslash).
func unescapedSpaces(l []byte) int {
	n := 0
	for i := range l {
		if l[i] == ' ' && (i == 0 || l[i-1] != '\\') {
			n++
		}
	}
	return n
}

func BenchmarkAppendReading(b *testing.B) {
	rec := rec2()
	q := []int{1, 1}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = lineproto.AppendReading(buf[:0], tags, rec, q, false)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendAlert(b *testing.B) {
	e := &schemas.AlertEvent{V: 1, ID: "DN-HOAPHUOC-0123456789abcdef", EventID: "DN-HOAPHUOC-0123456789abcdef:fired:2:1",
		Kind: schemas.AlertFired, Station: "DN-HOAPHUOC", Sensor: schemas.WaterLevel, Rule: "level", Level: 2,
		Severity: schemas.SeveritySevere, Value: 3.25, Threshold: 3, StartedAt: ts.Add(-time.Hour), At: ts,
		District: "Hoà Vang", Basin: "vu-gia-thu-bon", Message: "Mực nước vượt báo động II"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = lineproto.AppendAlert(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

func field(m protocol.Metric, k string) (any, bool) {
	for _, f := range m.FieldList() {
		if f.Key == k {
			return f.Value, true
		}
	}
	return nil, false
}

func tag(m protocol.Metric, k string) (string, bool) {
	for _, t := range m.TagList() {
		if t.Key == k {
			return t.Value, true
		}
	}
	return "", false
}
