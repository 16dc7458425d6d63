package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzDecode checks the decoder contract on arbitrary topics and payloads:
// it never panics; it returns records or a *RejectError with a known
// reason, never both; every accepted record passes checkRecords (station
// valid, known and equal to the topic's; values finite, in bounds and in
// canonical units; ts not after now+MaxFuture) and marshals to JSON; and
// decoding is deterministic.
func FuzzDecode(f *testing.F) {
	for _, dir := range []struct{ glob, topic string }{
		{"testdata/reading-v1/*/*.json", "stations/ST-1/readings"},
		{"testdata/senml/*/*.json", "stations/ST-1/senml"},
	} {
		files, err := filepath.Glob(dir.glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			// The examples name VG-AINGHIA; the fuzz registry has ST-1.
			data = bytes.ReplaceAll(data, []byte("VG-AINGHIA"), []byte("ST-1"))
			f.Add(dir.topic, data)
		}
	}
	f.Add(topic1, []byte(msg(okTS, wl712)))
	f.Add(topic1, []byte("["+msg(okTS, wl712)+","+msg(`1761619800000`, wl("712", "cm"))+"]"))
	f.Add(topic1, []byte(msg(okTS, wl(`"NaN"`, "m"))))
	f.Add(topic1, []byte(msg(okTS, wl(`1e999`, "m"))))
	f.Add(topic1, []byte(msg(`"2025-10-28T03:05:00Z"`, wl712)))
	f.Add("stations/ST-2/readings", []byte(`{"v":1,"station":"ST-2","seq":1,"ts":`+okTS+`,"readings":[{"sensor":"wind_speed","value":36,"unit":"km/h"}],"battery":3900e-3}`))
	f.Add(senml1, []byte(`[{"bn":"ST-1:","bt":1761619800,"n":"water_level","u":"cm","v":712},{"n":"seq","v":42},{"n":"battery","u":"mV","v":3900,"t":1}]`))
	f.Add(senml1, []byte(`[{"n":"water_level","v":7,"t":-1e-4},{"n":"water_level","v":7,"t":1e-9}]`))
	f.Add("stations/ST-1\n/readings", []byte(msg(okTS, wl712)))
	f.Add("stations/+/senml", []byte(`[]`))
	f.Add(topic1, []byte("\xff"))
	// Rejection details stay bounded whatever the device sends.
	f.Add(topic1, []byte(msg(okTS, `{"sensor":"`+strings.Repeat("\\u0006", 200)+`","value":1}`)))
	f.Add(topic1, []byte(msg(okTS, wl("1", strings.Repeat("\\u0006", 200)))))
	f.Add("stations/"+strings.Repeat("\x06", 300)+"/readings", []byte("{}"))

	d := testDecoder(f)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		orig := slices.Clone(payload)
		recs, err := d.Decode(topic, payload, testNow)
		if !slices.Equal(orig, payload) {
			t.Fatal("Decode modified the payload")
		}
		if err != nil {
			if recs != nil {
				t.Fatalf("records and error %v", err)
			}
			re, ok := err.(*RejectError)
			if !ok {
				t.Fatalf("error %v (%T) is not a *RejectError", err, err)
			}
			if !slices.Contains(AllReasons, re.Reason) {
				t.Fatalf("reason %q not in AllReasons", re.Reason)
			}
			if len(re.Detail) > 600 {
				t.Fatalf("detail of %d bytes: %.100q", len(re.Detail), re.Detail)
			}
		} else {
			checkRecords(t, d, topic, recs, testNow)
			if _, err := json.Marshal(recs); err != nil {
				t.Fatalf("records do not marshal: %v", err)
			}
		}
		recs2, err2 := d.Decode(topic, payload, testNow)
		if !reflect.DeepEqual(recs, recs2) || ReasonOf(err) != ReasonOf(err2) {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
	})
}

// FuzzParseRegistry checks that ParseRegistry never panics and that an
// accepted registry only holds valid, unique, fully checked stations.
func FuzzParseRegistry(f *testing.F) {
	if data, err := os.ReadFile(stationsYAML); err == nil {
		f.Add(data)
	} else {
		f.Fatal(err)
	}
	f.Add([]byte("stations:\n  - id: A\n    interval: 1m\n    sensors: [rainfall]\n"))
	f.Add([]byte("stations:\n  - {id: A, interval: 1m, sensors: [water_level], alarm_levels_m: {I: 1, II: 2, III: 3}, verified: {I: bulletin}}\n"))
	f.Add([]byte("stations:\n  - id: A\n    interval: 10\n"))
	f.Add([]byte("stations: &a [*a]\n"))
	f.Add([]byte("a: &a [*a, *a]\nstations: []\n"))
	f.Add([]byte("stations:\n  - id: \"a\\nb\"\n    lat: .nan\n    interval: -1m\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRegistry(data)
		if err != nil {
			if r != nil {
				t.Fatal("registry and error")
			}
			return
		}
		ids := r.IDs()
		if len(ids) == 0 || len(ids) != r.Len() || !slices.IsSorted(ids) {
			t.Fatalf("ids %q, len %d", ids, r.Len())
		}
		for i, id := range ids {
			if !ValidStationID(id) || (i > 0 && ids[i-1] == id) {
				t.Fatalf("bad or duplicate id %q", id)
			}
			s := r.Lookup(id)
			if s == nil || s.ID != id || s.Interval <= 0 || len(s.Sensors) == 0 || !(s.Lat >= -90 && s.Lat <= 90) || !(s.Lon >= -180 && s.Lon <= 180) {
				t.Fatalf("station %+v", s)
			}
			for _, k := range s.Sensors {
				if _, ok := Specs[k]; !ok {
					t.Fatalf("station %s: sensor %q", id, k)
				}
			}
			for _, l := range []Levels{s.AlarmLevelsM, s.FloodDepthLevelsCM} {
				if l.Set() && !(l.I < l.II && l.II < l.III) {
					t.Fatalf("station %s: levels %+v", id, l)
				}
			}
		}
	})
}
