package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const backtestCSV = `ts,station,sensor,value,seq
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

func TestBacktestCSV(t *testing.T) {
	recs, err := ReadCSV(strings.NewReader(backtestCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || len(recs[0].Readings) != 2 || recs[8].Seq != 9 {
		t.Fatalf("records %d: %+v", len(recs), recs[0])
	}
	e := mustEngine(t, nil)
	res := Backtest(e, recs, BacktestOptions{})
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
		if _, ok := leads[l.Event.Rule+itoa(l.Event.Level)]; !ok {
			leads[l.Event.Rule+itoa(l.Event.Level)] = l.Lead
		}
	}
	// BĐ I at 00:30 (40 min before III), rate >= 0.3 m/h from 00:30 too.
	if leads["level:water_level1"] != 40*time.Minute || leads["level:water_level2"] != 20*time.Minute {
		t.Fatalf("leads %v", leads)
	}
	if leads["rate:water_level1"] == 0 {
		t.Fatalf("rate warning gave no lead: %v", leads)
	}
}

func TestBacktestLineProtocol(t *testing.T) {
	in := `# comment
reading,station=RG-HOAPHU rainfall=30,seq=1i 1697241600000000000
reading,station=RG-HOAPHU,src=x rainfall=30,seq=2i 1697242200000000000
reading,station=RG-HOAPHU rainfall=30,seq=4i 1697242800000000000
`
	recs, err := ReadLineProtocol(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	res := Backtest(mustEngine(t, nil), recs, BacktestOptions{NoTick: true})
	if got := brief(res.Events, "accum:rainfall:24h"); !eq(got, []string{"fired:1", "escalated:2"}) {
		t.Fatalf("24h %v", got)
	}
	if len(res.Notices) != 1 || res.Notices[0].Kind != NoticeSeqGap {
		t.Fatalf("notices %+v", res.Notices)
	}
}

func TestBacktestBadInput(t *testing.T) {
	for _, in := range []string{
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level\n",
		"yesterday,VG-AINGHIA,water_level,1\n",
		"2023-10-14T00:00:00Z,bad id,water_level,1\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,humidity,1\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level,999\n",
		"2023-10-14T00:00:00Z,VG-AINGHIA,water_level,1,-2\n",
	} {
		if _, err := ReadCSV(strings.NewReader(in)); !errors.Is(err, ErrBadInput) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{"reading water_level=1 1", "reading,station=A water_level=x 1", "reading,station=A water_level=1 x", "reading,station=A rainfall=-1 1"} {
		if _, err := ReadLineProtocol(strings.NewReader(in)); !errors.Is(err, ErrBadInput) {
			t.Errorf("%q: %v", in, err)
		}
	}
}
