package backtest_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/processor/backtest"
	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

var t0 = time.Date(2023, 10, 14, 0, 0, 0, 0, time.UTC)

func engine(t testing.TB) (*rules.Engine, *schemas.Registry) {
	t.Helper()
	reg, err := schemas.LoadRegistry("../../deployments/config/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return e, reg
}

// brief lists "kind:level" of the events of one rule ("" = every rule, as rule/kind:level).
func brief(evs []schemas.AlertEvent, rule string) []string {
	var out []string
	for _, e := range evs {
		switch {
		case rule == "":
			out = append(out, fmt.Sprintf("%s/%s:%d", e.Rule, e.Kind, e.Level))
		case e.Rule == rule:
			out = append(out, fmt.Sprintf("%s:%d", e.Kind, e.Level))
		}
	}
	return out
}

const aiNghiaCSV = `ts,station,sensor,value,seq
# Ái Nghĩa: heavy rain, fast rise, BĐ III
2023-10-14T00:00:00Z,VG-AINGHIA,water_level,5.0,1
2023-10-14T00:00:00Z,VG-AINGHIA,rainfall,10,1
2023-10-14T00:10:00Z,VG-AINGHIA,water_level,5.5,2
2023-10-14T00:10:00Z,VG-AINGHIA,rainfall,10,2
2023-10-14T00:20:00Z,VG-AINGHIA,water_level,6.0,3
2023-10-14T00:30:00Z,VG-AINGHIA,water_level,6.6,4
2023-10-14T00:40:00Z,VG-AINGHIA,water_level,7.3,5
2023-10-14T00:50:00Z,VG-AINGHIA,water_level,8.1,6
2023-10-14T01:00:00Z,VG-AINGHIA,water_level,8.8,7
2023-10-14T01:10:00Z,VG-AINGHIA,water_level,9.3,8
1697246400000,VG-AINGHIA,water_level,9.4,9
`

func TestRunCSVLeadTimes(t *testing.T) {
	recs, err := backtest.ReadCSV(strings.NewReader(aiNghiaCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || len(recs[0].Readings) != 2 || recs[8].Seq != 9 {
		t.Fatalf("records %d: %+v", len(recs), recs[0])
	}
	e, _ := engine(t)
	res := backtest.Run(e, recs, backtest.Options{})
	if res.Records != 9 || res.Late != 0 || res.Duplicates != 0 {
		t.Fatalf("counts %+v", res)
	}
	var target time.Time
	for _, ev := range res.Events {
		if ev.Rule == "level:water_level" && ev.Level == 3 {
			target = ev.At
		}
	}
	if !target.Equal(t0.Add(70 * time.Minute)) {
		t.Fatalf("BĐ III at %s; events %v", target, brief(res.Events, ""))
	}
	leads := map[string]time.Duration{}
	for _, l := range res.Leads {
		k := fmt.Sprintf("%s%d", l.Event.Rule, l.Event.Level)
		if _, ok := leads[k]; !ok {
			leads[k] = l.Lead
		}
	}
	// BĐ I at 00:30 (40 min before III), BĐ II at 00:50, rate >= 0.3 m/h from 00:30 too.
	if leads["level:water_level1"] != 40*time.Minute || leads["level:water_level2"] != 20*time.Minute {
		t.Fatalf("leads %v", leads)
	}
	if leads["rate:water_level1"] == 0 {
		t.Fatalf("rate warning gave no lead: %v", leads)
	}
}

// TestReadLineProtocolReadsWhatTheProcessorWrites: records written with
// lineproto.AppendReading (every tag escaped as the processor writes it,
// millisecond timestamps, device lines, alerts and notices in between) read
// back as the same records, and give the same events as the records did.
func TestReadLineProtocolReadsWhatTheProcessorWrites(t *testing.T) {
	e, reg := engine(t)
	var recs []schemas.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, schemas.Record{V: schemas.RecordVersion, Station: "HAN-CAMLE", Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * 10 * time.Minute),
			Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 0.5 + 0.12*float64(i), Unit: "m"}, {Sensor: schemas.Rainfall, Value: 9.5, Unit: "mm"}}})
		recs = append(recs, schemas.Record{V: schemas.RecordVersion, Station: "RG-HOAPHU", Seq: uint64(i + 100), TS: t0.Add(time.Duration(i)*10*time.Minute + 1500*time.Microsecond),
			Readings: []schemas.Measurement{{Sensor: schemas.Rainfall, Value: 12.25, Unit: "mm"}}})
	}
	var b []byte
	battery := 3.9
	for i := range recs {
		r := recs[i]
		r.Battery = &battery
		var err error
		if b, err = lineproto.AppendReading(b, lineproto.TagsOf(reg, r.Station), &r, []int{1, 1}, false); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			b = lineproto.AppendNotice(b, lineproto.TagsOf(reg, r.Station), "seq_gap", "a, b = c", r.TS)
		}
	}
	if !bytes.Contains(b, []byte(`district=Cẩm\ Lệ`)) {
		t.Fatalf("test data has no escaped space in a tag:\n%.300s", b)
	}
	want := backtest.Run(e, recs, backtest.Options{NoTick: true})
	for i := range want.Events {
		b = lineproto.AppendAlert(b, &want.Events[i])
	}
	got, err := backtest.ReadLineProtocol(bytes.NewReader(b), backtest.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records read back, want %d", len(got), len(recs))
	}
	for i := range recs {
		w := recs[i]
		w.TS = w.TS.Truncate(time.Millisecond) // the points' precision
		if g := got[i]; g.Station != w.Station || g.Seq != w.Seq || !g.TS.Equal(w.TS) || !reflect.DeepEqual(g.Readings, w.Readings) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
	res := backtest.Run(e, got, backtest.Options{NoTick: true})
	if len(want.Events) == 0 || !reflect.DeepEqual(brief(res.Events, ""), brief(want.Events, "")) {
		t.Fatalf("events from the points %v, from the records %v", brief(res.Events, ""), brief(want.Events, ""))
	}
}

func TestReadLineProtocolPrecision(t *testing.T) {
	line := "reading,sensor=rainfall,station=RG-HOAPHU value=30,seq=1i 1697241600"
	for _, c := range []struct {
		prec backtest.Precision
		want time.Time
	}{
		{backtest.Second, time.Unix(1697241600, 0)},
		{backtest.Millisecond, time.UnixMilli(1697241600)},
		{backtest.Nanosecond, time.Unix(0, 1697241600)},
	} {
		recs, err := backtest.ReadLineProtocol(strings.NewReader(line), c.prec)
		if err != nil {
			t.Fatal(err)
		}
		if !recs[0].TS.Equal(c.want) {
			t.Errorf("precision %v: %s, want %s", time.Duration(c.prec), recs[0].TS, c.want)
		}
	}
	if _, err := backtest.ParsePrecision("h"); err == nil {
		t.Fatal("precision h accepted")
	}
}

func TestReadersRejectBadInput(t *testing.T) {
	for _, in := range []string{
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level\n",
		"yesterday,VG-AINGHIA,water_level,1\n",
		"2023-10-14T00:00:00Z,bad id,water_level,1\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,humidity,1\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level,999\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level,1,-2\n",
	} {
		if _, err := backtest.ReadCSV(strings.NewReader(in)); !errors.Is(err, backtest.ErrBadInput) {
			t.Errorf("csv %q: %v", in, err)
		}
	}
	for _, in := range []string{
		"reading,sensor=rainfall value=1,seq=1i 1",                       // no station
		"reading,sensor=rainfall,station=A value=x,seq=1i 1",             // not a number
		"reading,sensor=rainfall,station=A value=1,seq=1i x",             // timestamp
		"reading,sensor=rainfall,station=A value=-1,seq=1i 1",            // out of bounds
		"reading,sensor=rainfall,station=A value=1 1",                    // no seq
		"reading,sensor=rainfall,station=A value=1,seq=1i",               // no timestamp
		"reading,sensor=humidity,station=A value=1,seq=1i 1",             // unknown sensor
		"reading,station=A water_level=1,seq=1i 1697241600000000000",     // the old layout
		"reading,sensor=rainfall,station=A value=1,seq=1i 9999999999999", // overflows ns
	} {
		if _, err := backtest.ReadLineProtocol(strings.NewReader(in), backtest.Millisecond); !errors.Is(err, backtest.ErrBadInput) {
			t.Errorf("line protocol %q: %v", in, err)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add(aiNghiaCSV)
	f.Add("1,A,rainfall,1,1\n1,A,rainfall,2,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := backtest.ReadCSV(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, backtest.ErrBadInput) {
				t.Fatalf("error does not wrap ErrBadInput: %v", err)
			}
			return
		}
		checkRecords(t, recs)
	})
}

func FuzzReadLineProtocol(f *testing.F) {
	f.Add("reading,basin=b,district=Cẩm\\ Lệ,sensor=rainfall,station=A value=1,seq=2i,quality=1i,late=false 3\n")
	f.Add("alert,station=A id=\"x\" 1\nreading,sensor=water_level,station=A value=1e3,seq=-1i 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := backtest.ReadLineProtocol(strings.NewReader(in), backtest.Millisecond)
		if err != nil {
			if !errors.Is(err, backtest.ErrBadInput) {
				t.Fatalf("error does not wrap ErrBadInput: %v", err)
			}
			return
		}
		checkRecords(t, recs)
	})
}

// checkRecords: whatever a reader accepts is a valid record for the engine.
func checkRecords(t *testing.T, recs []schemas.Record) {
	t.Helper()
	for _, r := range recs {
		if !schemas.ValidStationID(r.Station) || len(r.Readings) == 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, m := range r.Readings {
			if _, err := schemas.Normalize(m.Sensor, m.Value, ""); err != nil {
				t.Fatalf("accepted %+v: %v", m, err)
			}
		}
	}
}
