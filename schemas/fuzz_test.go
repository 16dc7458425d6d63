package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
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
// decoding is deterministic. Differentially, against encoding/json and the
// JSON Schema files: an accepted payload has no member name twice in any
// object (checked by uniqueNames, a json.Decoder.Token walk), only the
// format's member names spelled exactly (checkExactNames), and is valid
// against reading-v1 or senml.
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

	f.Add(topic1, []byte(`{"v":1,"v":1,"station":"ST-1","seq":7,"ts":`+okTS+`,"readings":[`+wl712+`]}`))
	f.Add(topic1, []byte(`{"V":1,"station":"ST-1","seq":7,"ts":`+okTS+`,"readings":[`+wl712+`]}`))
	f.Add(topic1, []byte(`{"\u0076":1,"station":"ST-1","seq":7,"ts":`+okTS+`,"readings":[{"sensor":"water_level","value":7,"Unit":"m"}]}`))
	f.Add(topic1, []byte(msg(okTS, wl712+`,`+wl712)))
	f.Add(topic1, []byte(`{"v":1,"station":"ST-1","seq":7,"ts":`+okTS+`,"readings":[`+wl712+`],"rssi":-201}`))
	f.Add(topic1, []byte(msg(okTS, `{"sensor":"tilt","value":1}`)))
	f.Add(senml1, []byte(`[{"n":"water_level","v":7,"V":8,"x":1,"x_":2}]`))
	f.Add(senml1, []byte(`[{"bn":"ST-1:","bv":7,"n":"water_level","v":0.1},{"n":"water_level","v":0.2}]`))
	f.Add(topic1, []byte(strings.Repeat("[", 1000)))

	d := testDecoder(f)
	reading, err := loadSchema("json/reading-v1.schema.json")
	if err != nil {
		f.Fatal(err)
	}
	senml, err := loadSchema("json/senml.schema.json")
	if err != nil {
		f.Fatal(err)
	}
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
			if !slices.Contains(DecodeReasons(), re.Reason) {
				t.Fatalf("reason %q not in DecodeReasons()", re.Reason)
			}
			if len(re.Detail) > 600 {
				t.Fatalf("detail of %d bytes: %.100q", len(re.Detail), re.Detail)
			}
		} else {
			checkRecords(t, d, topic, recs, testNow)
			if _, err := json.Marshal(recs); err != nil {
				t.Fatalf("records do not marshal: %v", err)
			}
			if err := uniqueNames(payload); err != nil {
				t.Fatalf("accepted a payload with %v", err)
			}
			doc, err := decodeJSON(payload)
			if err != nil {
				t.Fatalf("accepted what encoding/json refuses: %v", err)
			}
			_, kind := ParseTopic(topic)
			schema := reading
			if kind == TopicSenML {
				schema = senml
			}
			checkExactNames(t, kind, doc)
			if err := schema.Validate(doc); err != nil {
				t.Fatalf("accepted what the JSON Schema rejects: %v", err)
			}
		}
		recs2, err2 := d.Decode(topic, payload, testNow)
		if !reflect.DeepEqual(recs, recs2) || ReasonOf(err) != ReasonOf(err2) {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
	})
}

// checkExactNames fails t if doc, an accepted payload, has a member name
// the format does not define, compared exactly: v1 message and reading
// members, or SenML labels (RFC 8428 ones, or extensions that neither end
// in "_" nor equal a label but for ASCII case).
func checkExactNames(t *testing.T, kind TopicKind, doc any) {
	t.Helper()
	names := func(obj any, allowed func(string) bool, where string) {
		m, ok := obj.(map[string]any)
		if !ok {
			if obj != nil || kind == TopicSenML {
				t.Fatalf("%s: accepted %T, not an object", where, obj)
			}
			return
		}
		for k := range m {
			if !allowed(k) {
				t.Fatalf("%s: accepted member %q", where, k)
			}
		}
	}
	in := func(set ...string) func(string) bool {
		return func(k string) bool { return slices.Contains(set, k) }
	}
	msgNames := in("v", "station", "seq", "boot", "ts", "readings", "battery", "rssi")
	readingNames := in("sensor", "value", "unit")
	senmlName := func(k string) bool {
		if slices.Contains(senmlLabels[:], k) {
			return true
		}
		for _, l := range senmlLabels {
			if strings.ToLower(k) == l && !strings.ContainsFunc(k, func(r rune) bool { return r > 127 }) {
				return false
			}
		}
		return !strings.HasSuffix(k, "_")
	}
	items, isArray := doc.([]any)
	if !isArray {
		items = []any{doc}
	}
	for i, it := range items {
		if kind == TopicSenML {
			names(it, senmlName, fmt.Sprintf("senml[%d]", i))
			continue
		}
		names(it, msgNames, fmt.Sprintf("message %d", i))
		if m, ok := it.(map[string]any); ok {
			rs, _ := m["readings"].([]any)
			for j, r := range rs {
				names(r, readingNames, fmt.Sprintf("message %d reading %d", i, j))
			}
		}
	}
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
