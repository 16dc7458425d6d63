package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const stationsYAML = "../deployments/config/stations.yaml"

func mustSchema(t *testing.T, name string) *jsonSchema {
	t.Helper()
	s, err := loadSchema(filepath.Join("json", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// toJSONValue round-trips v through encoding/json into the validator's
// representation.
func toJSONValue(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaFilesWellFormed(t *testing.T) {
	files, err := filepath.Glob("json/*.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alert-event-v1", "dead-letter-v1", "reading-v1", "record-v1", "senml", "stations"}
	var got []string
	ids := map[string]bool{}
	for _, f := range files {
		s, err := loadSchema(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSuffix(filepath.Base(f), ".schema.json"))
		if s.root["$schema"] != draft202012 {
			t.Errorf("%s: $schema %v", f, s.root["$schema"])
		}
		id, _ := s.root["$id"].(string)
		if id == "" || ids[id] || !strings.HasSuffix(id, ":"+got[len(got)-1]) {
			t.Errorf("%s: $id %q missing, duplicate or not named after the file", f, id)
		}
		ids[id] = true
		if title, _ := s.root["title"].(string); title == "" {
			t.Errorf("%s: no title", f)
		}
		if desc, _ := s.root["description"].(string); desc == "" {
			t.Errorf("%s: no description", f)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schema files %v, want %v", got, want)
	}
}

func sortedSensors() []string {
	var out []string
	for s := range Specs {
		out = append(out, string(s))
	}
	sort.Strings(out)
	return out
}

func stringsOf(t *testing.T, v any) []string {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not an array", v)
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		out[i] = x.(string)
	}
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func at(t *testing.T, s *jsonSchema, path string) any {
	t.Helper()
	v, err := s.resolve(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func numOf(t *testing.T, v any) float64 {
	t.Helper()
	f, ok := num(v)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	x, _ := f.Float64()
	return x
}

// perSensor collects the if/then branches keyed by sensor const.
func perSensor(t *testing.T, allOf any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, b := range allOf.([]any) {
		bm := b.(map[string]any)
		sensor := bm["if"].(map[string]any)["properties"].(map[string]any)["sensor"].(map[string]any)["const"].(string)
		out[sensor] = bm["then"].(map[string]any)["properties"].(map[string]any)
	}
	return out
}

func TestSchemaEnumsMatchGo(t *testing.T) {
	sensors := sortedSensors()
	for _, f := range []string{"reading-v1.schema.json", "record-v1.schema.json", "alert-event-v1.schema.json", "stations.schema.json"} {
		s := mustSchema(t, f)
		if got := sorted(stringsOf(t, at(t, s, "#/$defs/sensor/enum"))); !reflect.DeepEqual(got, sensors) {
			t.Errorf("%s: sensor enum %v, Specs %v", f, got, sensors)
		}
		if p := at(t, s, "#/$defs/stationId").(map[string]any)["pattern"]; p != StationIDPattern {
			t.Errorf("%s: station id pattern %v, Go %s", f, p, StationIDPattern)
		}
	}

	// Accepted input units per sensor (reading-v1) = Specs factors.
	reading := mustSchema(t, "reading-v1.schema.json")
	units := perSensor(t, at(t, reading, "#/$defs/reading/allOf"))
	if len(units) != len(Specs) {
		t.Errorf("reading-v1: unit rules for %d sensors, Specs has %d", len(units), len(Specs))
	}
	for s, spec := range Specs {
		var want []string
		for u := range spec.Factors {
			want = append(want, u)
		}
		got := stringsOf(t, units[string(s)]["unit"].(map[string]any)["enum"])
		if !reflect.DeepEqual(sorted(got), sorted(want)) {
			t.Errorf("reading-v1: %s units %v, Specs %v", s, got, want)
		}
	}
	bat := at(t, reading, "#/$defs/message/properties/battery").(map[string]any)
	if numOf(t, bat["minimum"]) != Specs[Battery].Min || numOf(t, bat["maximum"]) != Specs[Battery].Max {
		t.Errorf("reading-v1: battery bounds differ from Specs")
	}

	rssi := at(t, reading, "#/$defs/message/properties/rssi").(map[string]any)
	if numOf(t, rssi["minimum"]) != MinRSSI || numOf(t, rssi["maximum"]) != MaxRSSI {
		t.Errorf("reading-v1: rssi bounds differ from MinRSSI/MaxRSSI")
	}
	// At most one reading per sensor: a maxContains 1 rule for every kind.
	once := map[string]bool{}
	for _, r := range at(t, reading, "#/$defs/message/properties/readings/allOf").([]any) {
		rm := r.(map[string]any)
		sensor := rm["contains"].(map[string]any)["properties"].(map[string]any)["sensor"].(map[string]any)["const"].(string)
		if numOf(t, rm["maxContains"]) == 1 && numOf(t, rm["minContains"]) == 0 {
			once[sensor] = true
		}
	}
	for _, s := range sensors {
		if !once[s] {
			t.Errorf("reading-v1: no maxContains 1 rule for %s", s)
		}
	}

	// Canonical unit and bounds per sensor (record-v1) = Specs.
	record := mustSchema(t, "record-v1.schema.json")
	canon := perSensor(t, at(t, record, "#/$defs/measurement/allOf"))
	if len(canon) != len(Specs) {
		t.Errorf("record-v1: rules for %d sensors, Specs has %d", len(canon), len(Specs))
	}
	for s, spec := range Specs {
		p := canon[string(s)]
		if p["unit"].(map[string]any)["const"] != spec.Unit {
			t.Errorf("record-v1: %s unit %v, Specs %s", s, p["unit"], spec.Unit)
		}
		v := p["value"].(map[string]any)
		if numOf(t, v["minimum"]) != spec.Min || numOf(t, v["maximum"]) != spec.Max {
			t.Errorf("record-v1: %s bounds %v..%v, Specs %v..%v", s, v["minimum"], v["maximum"], spec.Min, spec.Max)
		}
	}
	if got := sorted(stringsOf(t, at(t, record, "#/properties/format/enum"))); !reflect.DeepEqual(got, []string{"senml", "v1"}) {
		t.Errorf("record-v1: format enum %v", got)
	}

	// SenML names: every sensor kind and seq.
	senml := mustSchema(t, "senml.schema.json")
	pat := at(t, senml, "#/items/properties/n/pattern").(string)
	for _, s := range append(sensors, "seq") {
		if !strings.Contains(pat, s) {
			t.Errorf("senml: name pattern lacks %s", s)
		}
	}

	var props []string
	for p := range at(t, senml, "#/items/properties").(map[string]any) {
		props = append(props, p)
	}
	labels := at(t, senml, "#/items/propertyNames/anyOf").([]any)[0].(map[string]any)["enum"]
	if got := sorted(stringsOf(t, labels)); !reflect.DeepEqual(got, sorted(senmlLabels[:])) || !reflect.DeepEqual(sorted(props), got) {
		t.Errorf("senml: labels %v, properties %v, Go %v", got, sorted(props), senmlLabels)
	}
	if n := numOf(t, at(t, senml, "#/items/maxProperties")); n != maxSenMLMembers {
		t.Errorf("senml: maxProperties %v, Go %d", n, maxSenMLMembers)
	}

	// Reasons.
	dl := mustSchema(t, "dead-letter-v1.schema.json")
	var reasons []string
	for _, r := range DeadLetterReasons() {
		reasons = append(reasons, string(r))
	}
	if got := stringsOf(t, at(t, dl, "#/properties/reason/enum")); !reflect.DeepEqual(sorted(got), sorted(reasons)) {
		t.Errorf("dead-letter-v1: reason enum %v, DeadLetterReasons %v", got, reasons)
	}

	// Alert kinds and severities.
	alert := mustSchema(t, "alert-event-v1.schema.json")
	kinds := []string{string(AlertFired), string(AlertEscalated), string(AlertDeescalated), string(AlertResolved)}
	if got := stringsOf(t, at(t, alert, "#/properties/kind/enum")); !reflect.DeepEqual(sorted(got), sorted(kinds)) {
		t.Errorf("alert-event-v1: kind enum %v", got)
	}
	sev := []string{string(SeverityMinor), string(SeverityModerate), string(SeveritySevere), string(SeverityExtreme)}
	if got := stringsOf(t, at(t, alert, "#/properties/severity/enum")); !reflect.DeepEqual(sorted(got), sorted(sev)) {
		t.Errorf("alert-event-v1: severity enum %v", got)
	}
}

// TestSchemaPropertiesMatchGoTypes checks that the object schemas name
// exactly the JSON fields of the Go types, and require the fields that are
// not omitempty.
func TestSchemaPropertiesMatchGoTypes(t *testing.T) {
	for _, c := range []struct {
		file, path string
		typ        reflect.Type
	}{
		{"record-v1.schema.json", "#", reflect.TypeOf(Record{})},
		{"record-v1.schema.json", "#/$defs/measurement", reflect.TypeOf(Measurement{})},
		{"alert-event-v1.schema.json", "#", reflect.TypeOf(AlertEvent{})},
		{"alert-event-v1.schema.json", "#/properties/readings/items", reflect.TypeOf(ReadingRef{})},
		{"dead-letter-v1.schema.json", "#", reflect.TypeOf(DeadLetter{})},
		{"reading-v1.schema.json", "#/$defs/message", reflect.TypeOf(deviceMsg{})},
	} {
		s := mustSchema(t, c.file)
		node := at(t, s, c.path).(map[string]any)
		props := node["properties"].(map[string]any)
		var gotProps, wantProps, wantReq []string
		for p := range props {
			gotProps = append(gotProps, p)
		}
		for i := 0; i < c.typ.NumField(); i++ {
			tag := c.typ.Field(i).Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			wantProps = append(wantProps, name)
			if opts != "omitempty" && c.typ != reflect.TypeOf(deviceMsg{}) {
				wantReq = append(wantReq, name)
			}
		}
		if !reflect.DeepEqual(sorted(gotProps), sorted(wantProps)) {
			t.Errorf("%s %s: properties %v, Go %s fields %v", c.file, c.path, sorted(gotProps), c.typ, sorted(wantProps))
		}
		if c.typ == reflect.TypeOf(deviceMsg{}) {
			continue
		}
		gotReq := stringsOf(t, node["required"])
		if !reflect.DeepEqual(sorted(gotReq), sorted(wantReq)) {
			t.Errorf("%s %s: required %v, Go non-omitempty %v", c.file, c.path, sorted(gotReq), sorted(wantReq))
		}
	}
}

// exampleSchemaRejects says, for each invalid example, whether the JSON
// Schema alone rejects it too (true) or only the decoder's semantic checks
// do (false: registry, topic, unit conversion, clock). Examples that are
// not JSON at all are absent. Every invalid example that parses as JSON
// must be listed, so adding one forces the decision.
var exampleSchemaRejects = map[string]bool{
	"reading-v1/invalid/bad_json__negative-seq.json":                true,
	"reading-v1/invalid/bad_json__value-string.json":                true,
	"reading-v1/invalid/bad_station_id__payload-station-space.json": true,
	"reading-v1/invalid/bad_timestamp__epoch-float.json":            true,
	"reading-v1/invalid/bad_timestamp__epoch-seconds.json":          true,
	"reading-v1/invalid/bad_timestamp__epoch-zero.json":             true,
	"reading-v1/invalid/bad_timestamp__not-rfc3339.json":            true,
	"reading-v1/invalid/bad_unit__feet.json":                        true,
	"reading-v1/invalid/bad_version__v2.json":                       true,
	"reading-v1/invalid/empty__batch.json":                          true,
	"reading-v1/invalid/missing_field__batch-second-no-seq.json":    true,
	"reading-v1/invalid/missing_field__no-readings.json":            true,
	"reading-v1/invalid/missing_field__no-seq.json":                 true,
	"reading-v1/invalid/missing_field__no-station.json":             true,
	"reading-v1/invalid/missing_field__no-ts.json":                  true,
	"reading-v1/invalid/missing_field__no-v.json":                   true,
	"reading-v1/invalid/missing_field__value-null.json":             true,
	"reading-v1/invalid/not_finite__value-nan-string.json":          true,
	"reading-v1/invalid/unknown_sensor__pressure.json":              true,
	"reading-v1/invalid/not_finite__value-1e999.json":               false, // a number to JSON Schema
	"reading-v1/invalid/future_timestamp__batch-2099.json":          false,
	"reading-v1/invalid/future_timestamp__six-minutes.json":         false,
	"reading-v1/invalid/out_of_bounds__negative-rain.json":          false, // bounds apply after unit conversion
	"reading-v1/invalid/out_of_bounds__water-level-300m.json":       false,
	"reading-v1/invalid/out_of_bounds__water-level-30000cm.json":    false,
	"reading-v1/invalid/station_mismatch__other-station.json":       false,
	"senml/invalid/bad_json__fractional-seq.json":                   false,
	"senml/invalid/bad_json__object-not-array.json":                 true,
	"senml/invalid/bad_json__value-string.json":                     true,
	"senml/invalid/bad_timestamp__1998.json":                        false,
	"senml/invalid/bad_timestamp__year-3000.json":                   false,
	"senml/invalid/bad_unit__water-level-feet.json":                 false,
	"senml/invalid/empty__pack.json":                                true,
	"senml/invalid/future_timestamp__2099.json":                     false,
	"senml/invalid/missing_field__lone-seq.json":                    false,
	"senml/invalid/missing_field__string-value.json":                true,
	"senml/invalid/out_of_bounds__negative-rain.json":               false,
	"senml/invalid/station_mismatch__base-name-no-separator.json":   true,
	"senml/invalid/station_mismatch__base-name.json":                false,
	"senml/invalid/station_mismatch__prefixed-name.json":            false,
	"senml/invalid/unknown_sensor__temperature.json":                true,
}

// TestExamples checks schemas/testdata/{reading-v1,senml}: every valid
// example is valid against its JSON Schema and accepted by the decoder
// (against deployments/config/stations.yaml, on station VG-AINGHIA, at
// testNow), and its records and a dead letter are valid against
// record-v1 and dead-letter-v1; every invalid example is rejected with the
// reason its file name starts with.
func TestExamples(t *testing.T) {
	reg, err := LoadRegistry(stationsYAML)
	if err != nil {
		t.Fatal(err)
	}
	d := &Decoder{Registry: reg, Opts: DefaultDecodeOptions()}
	recordSchema := mustSchema(t, "record-v1.schema.json")
	dlSchema := mustSchema(t, "dead-letter-v1.schema.json")
	listed := map[string]bool{}
	for _, kind := range []struct{ dir, schema, topic string }{
		{"reading-v1", "reading-v1.schema.json", "stations/VG-AINGHIA/readings"},
		{"senml", "senml.schema.json", "stations/VG-AINGHIA/senml"},
	} {
		schema := mustSchema(t, kind.schema)
		for _, validity := range []string{"valid", "invalid"} {
			files, err := filepath.Glob(filepath.Join("testdata", kind.dir, validity, "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) < 5 {
				t.Fatalf("only %d %s %s examples", len(files), kind.dir, validity)
			}
			for _, f := range files {
				name := filepath.ToSlash(strings.TrimPrefix(f, "testdata"+string(filepath.Separator)))
				t.Run(name, func(t *testing.T) {
					payload, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					doc, jsonErr := decodeJSON(payload)
					recs, decErr := d.Decode(kind.topic, payload, testNow)
					if validity == "valid" {
						if jsonErr != nil {
							t.Fatalf("not JSON: %v", jsonErr)
						}
						if err := schema.Validate(doc); err != nil {
							t.Fatalf("schema %s: %v", kind.schema, err)
						}
						if decErr != nil {
							t.Fatalf("decoder: %v", decErr)
						}
						checkRecords(t, d, kind.topic, recs, testNow)
						for _, r := range recs {
							if err := recordSchema.Validate(toJSONValue(t, r)); err != nil {
								t.Fatalf("record %+v: record-v1: %v", r, err)
							}
						}
						return
					}
					reason := Reason(strings.SplitN(filepath.Base(f), "__", 2)[0])
					if ReasonOf(decErr) != reason || recs != nil {
						t.Fatalf("decoder: %v (%d records), want %s", decErr, len(recs), reason)
					}
					if doc != nil {
						if arr, ok := doc.([]any); ok && kind.dir == "reading-v1" && len(arr) > 0 && !strings.Contains(decErr.Error(), "batch[") {
							t.Fatalf("batch rejection without batch index: %v", decErr)
						}
					}
					dlq := DeadLetter{V: DeadLetterVersion, Reason: reason, Detail: decErr.(*RejectError).Detail, Topic: kind.topic,
						Payload: payload, ReceivedAt: testNow, Collector: "test"}
					if err := dlSchema.Validate(toJSONValue(t, dlq)); err != nil {
						t.Fatalf("dead letter: %v", err)
					}
					if jsonErr != nil {
						if _, ok := exampleSchemaRejects[name]; ok {
							t.Fatalf("%s is not JSON but listed in exampleSchemaRejects", name)
						}
						return
					}
					rejects, ok := exampleSchemaRejects[name]
					if !ok {
						t.Fatalf("add %s to exampleSchemaRejects", name)
					}
					listed[name] = true
					if err := schema.Validate(doc); (err != nil) != rejects {
						t.Fatalf("schema rejects=%v, want %v (%v)", err != nil, rejects, err)
					}
				})
			}
		}
	}
	for name := range exampleSchemaRejects {
		if !listed[name] {
			t.Errorf("exampleSchemaRejects lists %s, which was not checked", name)
		}
	}
}

func TestAlertEventSchema(t *testing.T) {
	s := mustSchema(t, "alert-event-v1.schema.json")
	start := time.Date(2025, 10, 28, 2, 40, 0, 0, time.UTC)
	id := AlertID("VG-AINGHIA", "water_level_alarm", start)
	ev := AlertEvent{V: AlertEventVersion, ID: id, EventID: EventID(id, AlertEscalated, 2, start.Add(10*time.Minute)),
		Kind: AlertEscalated, Station: "VG-AINGHIA", Sensor: WaterLevel, Rule: "water_level_alarm", Level: 2, LevelName: "BĐ II",
		Severity: SeveritySevere, Value: 8.12, Threshold: 8, Window: "10m", StartedAt: start, At: start.Add(10 * time.Minute),
		Readings: []ReadingRef{{Seq: 1042, TS: start.Add(10 * time.Minute), Value: 8.12}}, District: "Đại Lộc", Basin: "vu-gia-thu-bon",
		Message: "Ái Nghĩa 8.12 m, above BĐ II by 0.12 m"}
	if err := s.Validate(toJSONValue(t, ev)); err != nil {
		t.Fatalf("full event: %v", err)
	}
	minimal := AlertEvent{V: AlertEventVersion, ID: id, EventID: EventID(id, AlertResolved, 0, start), Kind: AlertResolved,
		Station: "VG-AINGHIA", Rule: "r", Severity: SeverityMinor, StartedAt: start, At: start}
	if err := s.Validate(toJSONValue(t, minimal)); err != nil {
		t.Fatalf("minimal event: %v", err)
	}
	// The validator and schema do reject what they should.
	for name, mutate := range map[string]func(e *AlertEvent){
		"kind":     func(e *AlertEvent) { e.Kind = "exploded" },
		"severity": func(e *AlertEvent) { e.Severity = "severe" },
		"id":       func(e *AlertEvent) { e.ID = "VG-AINGHIA-xyz" },
		"event_id": func(e *AlertEvent) { e.EventID = e.ID },
		"station":  func(e *AlertEvent) { e.Station = "a b" },
		"level":    func(e *AlertEvent) { e.Level = -1 },
		"v":        func(e *AlertEvent) { e.V = 2 },
		"rule":     func(e *AlertEvent) { e.Rule = "" },
	} {
		e := ev
		mutate(&e)
		if err := s.Validate(toJSONValue(t, e)); err == nil {
			t.Errorf("bad %s accepted", name)
		}
	}
	doc := toJSONValue(t, ev).(map[string]any)
	doc["extra"] = json.Number("1")
	if s.Validate(doc) == nil {
		t.Error("additional property accepted")
	}
	delete(doc, "extra")
	doc["at"] = "yesterday"
	if s.Validate(doc) == nil {
		t.Error("bad date-time accepted")
	}
}

func TestRecordSchemaRejectsNonCanonical(t *testing.T) {
	s := mustSchema(t, "record-v1.schema.json")
	ok := Record{V: 1, Station: "S", Seq: MaxSeq, TS: testNow, ReceivedAt: testNow, Format: "v1",
		Readings: []Measurement{{Sensor: WaterLevel, Value: 7, Unit: "m"}}}
	if err := s.Validate(toJSONValue(t, ok)); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	for name, m := range map[string]Measurement{
		"non-canonical unit": {Sensor: WaterLevel, Value: 700, Unit: "cm"},
		"out of bounds":      {Sensor: WaterLevel, Value: 201, Unit: "m"},
		"unknown sensor":     {Sensor: "pressure", Value: 1, Unit: "hPa"},
	} {
		r := ok
		r.Readings = []Measurement{m}
		if s.Validate(toJSONValue(t, r)) == nil {
			t.Errorf("%s accepted", name)
		}
	}
	r := ok
	r.Readings = nil
	if s.Validate(toJSONValue(t, r)) == nil {
		t.Error("null readings accepted")
	}
}

func TestStationsYAMLMatchesSchema(t *testing.T) {
	s := mustSchema(t, "stations.schema.json")
	data, err := os.ReadFile(stationsYAML)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(toJSONValue(t, doc)); err != nil {
		t.Fatalf("%s: %v", stationsYAML, err)
	}
	bad := strings.Replace(string(data), "interval: 5m", "interval: 5 minutes", 1)
	if err := yaml.Unmarshal([]byte(bad), &doc); err != nil {
		t.Fatal(err)
	}
	if s.Validate(toJSONValue(t, doc)) == nil {
		t.Fatal("bad interval accepted by stations.schema.json")
	}
	if _, err := ParseRegistry([]byte(bad)); err == nil || !strings.Contains(err.Error(), "5 minutes") {
		t.Fatalf("bad interval: ParseRegistry: %v", err)
	}
}
