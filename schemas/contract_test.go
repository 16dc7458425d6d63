package schemas

import (
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		sensor Sensor
		value  float64
		unit   string
		want   float64
		reason Reason
	}{
		{WaterLevel, 7.12, "m", 7.12, ""},
		{WaterLevel, 7.12, "", 7.12, ""},
		{WaterLevel, 712, "cm", 7.12, ""},
		{WaterLevel, 7120, "mm", 7.12, ""},
		{WaterLevel, -50, "m", -50, ""},
		{WaterLevel, 200, "m", 200, ""},
		{WaterLevel, 200.0001, "m", 0, ReasonOutOfBounds},
		{WaterLevel, -5001, "cm", 0, ReasonOutOfBounds},
		{WaterLevel, 1, "ft", 0, ReasonBadUnit},
		{WaterLevel, 1, "M", 0, ReasonBadUnit},
		{WaterLevel, math.NaN(), "m", 0, ReasonNotFinite},
		{WaterLevel, math.Inf(1), "m", 0, ReasonNotFinite},
		{WaterLevel, math.Inf(-1), "", 0, ReasonNotFinite},
		{Rainfall, 1, "in", 25.4, ""},
		{Rainfall, 1.5, "cm", 15, ""},
		{Rainfall, 0, "mm", 0, ""},
		{Rainfall, -0.01, "mm", 0, ReasonOutOfBounds},
		{Rainfall, 1e308, "in", 0, ReasonNotFinite},
		{FloodDepth, 0.3, "m", 30, ""},
		{FloodDepth, 3, "in", 7.62, ""},
		{FloodDepth, 55, "mm", 5.5, ""},
		{FloodDepth, 1001, "cm", 0, ReasonOutOfBounds},
		{Tilt, math.Pi / 4, "rad", 45, ""},
		{Tilt, -12.5, "°", -12.5, ""},
		{Tilt, 91, "deg", 0, ReasonOutOfBounds},
		{WindSpeed, 36, "km/h", 10, ""},
		{WindSpeed, 10, "kn", 5.14444, ""},
		{WindGust, 432.1, "km/h", 0, ReasonOutOfBounds},
		{WindGust, -1, "m/s", 0, ReasonOutOfBounds},
		{SoilMoisture, 0.42, "/", 42, ""},
		{SoilMoisture, 42, "%", 42, ""},
		{SoilMoisture, 1.01, "/", 0, ReasonOutOfBounds},
		{Battery, 3900, "mV", 3.9, ""},
		{Battery, 3.9, "V", 3.9, ""},
		{Battery, 61, "V", 0, ReasonOutOfBounds},
		{Battery, 50, "%", 0, ReasonBadUnit},
		{"pressure", 1013, "hPa", 0, ReasonUnknownSensor},
		{"", 1, "", 0, ReasonUnknownSensor},
		{"Water_Level", 1, "m", 0, ReasonUnknownSensor},
	} {
		got, err := Normalize(c.sensor, c.value, c.unit)
		if ReasonOf(err) != c.reason {
			t.Errorf("Normalize(%s, %v, %q): err %v, want reason %q", c.sensor, c.value, c.unit, err, c.reason)
			continue
		}
		if err == nil && math.Abs(got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("Normalize(%s, %v, %q) = %v, want %v", c.sensor, c.value, c.unit, got, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), string(c.reason)) {
			t.Errorf("error %q lacks reason", err)
		}
	}
}

func TestSpecsConsistent(t *testing.T) {
	for s, spec := range Specs {
		if spec.Factors[spec.Unit] != 1 {
			t.Errorf("%s: canonical unit %q factor %v, want 1", s, spec.Unit, spec.Factors[spec.Unit])
		}
		if !(spec.Min < spec.Max) {
			t.Errorf("%s: bounds %v..%v", s, spec.Min, spec.Max)
		}
		for u, f := range spec.Factors {
			if u == "" || !(f > 0) || math.IsInf(f, 0) {
				t.Errorf("%s: unit %q factor %v", s, u, f)
			}
		}
	}
}

func TestValidStationID(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"VG-AINGHIA", true}, {"a", true}, {"A_b-9", true}, {strings.Repeat("x", 64), true},
		{"", false}, {strings.Repeat("x", 65), false}, {"a b", false}, {"a\n", false}, {"a\nb", false},
		{"\na", false}, {"+", false}, {"#", false}, {"a/b", false}, {"a,tag=x", false}, {"a=b", false},
		{"a.b", false}, {"Ái", false}, {"a\x00", false}, {"a\r", false}, {"a\t", false}, {`a"`, false},
		{"a\u200b", false}, {"ａ", false}, {"$SYS", false},
	} {
		if got := ValidStationID(c.id); got != c.ok {
			t.Errorf("ValidStationID(%q) = %v, want %v", c.id, got, c.ok)
		}
		if re := regexp.MustCompile(StationIDPattern); re.MatchString(c.id) != c.ok {
			t.Errorf("StationIDPattern on %q: %v, want %v", c.id, !c.ok, c.ok)
		}
	}
}

// FuzzValidStationID checks ValidStationID against StationIDPattern.
func FuzzValidStationID(f *testing.F) {
	for _, s := range []string{"VG-AINGHIA", "", "a\n", "a b", strings.Repeat("x", 64), strings.Repeat("x", 65), "Ái"} {
		f.Add(s)
	}
	re := regexp.MustCompile(StationIDPattern)
	f.Fuzz(func(t *testing.T, id string) {
		if ValidStationID(id) != re.MatchString(id) {
			t.Fatalf("ValidStationID(%q) = %v, pattern says %v", id, ValidStationID(id), re.MatchString(id))
		}
	})
}

func TestParseTopic(t *testing.T) {
	for _, c := range []struct {
		topic   string
		station string
		kind    TopicKind
	}{
		{"stations/VG-AINGHIA/readings", "VG-AINGHIA", TopicReadings},
		{"stations/VG-AINGHIA/senml", "VG-AINGHIA", TopicSenML},
		{"stations/VG-AINGHIA/status", "VG-AINGHIA", TopicStatus},
		{"stations/VG-AINGHIA/cmd/siren", "", TopicUnknown},
		{"stations/VG-AINGHIA/other", "", TopicUnknown},
		{"stations/VG-AINGHIA/readings/", "", TopicUnknown},
		{"stations/VG-AINGHIA/Readings", "", TopicUnknown},
		{"/stations/VG-AINGHIA/readings", "", TopicUnknown},
		{"Stations/VG-AINGHIA/readings", "", TopicUnknown},
		{"stations//readings", "", TopicUnknown},
		{"stations/+/readings", "", TopicUnknown},
		{"stations/#", "", TopicUnknown},
		{"stations/a b/readings", "", TopicUnknown},
		{"stations/a\n/readings", "", TopicUnknown},
		{"stations/" + strings.Repeat("A", 64) + "/readings", strings.Repeat("A", 64), TopicReadings},
		{"stations/" + strings.Repeat("A", 65) + "/readings", "", TopicUnknown},
		{"", "", TopicUnknown},
		{"stations", "", TopicUnknown},
	} {
		st, kind := ParseTopic(c.topic)
		if st != c.station || kind != c.kind {
			t.Errorf("ParseTopic(%q) = %q, %v; want %q, %v", c.topic, st, kind, c.station, c.kind)
		}
	}
	// The topic formats round-trip.
	for _, c := range []struct {
		format string
		kind   TopicKind
	}{{TopicReadingsFmt, TopicReadings}, {TopicSenMLFmt, TopicSenML}, {TopicStatusFmt, TopicStatus}} {
		if st, kind := ParseTopic(strings.Replace(c.format, "%s", "S-1", 1)); st != "S-1" || kind != c.kind {
			t.Errorf("format %s: %q %v", c.format, st, kind)
		}
	}
}

func validStation(id string) Station {
	return Station{ID: id, Name: id, Lat: 16, Lon: 108, Interval: 10 * time.Minute, Sensors: []Sensor{WaterLevel},
		AlarmLevelsM: Levels{I: 1, II: 2, III: 3}, Verified: map[string]string{"I": "estimate"}}
}

func TestNewRegistryErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(s *Station)
		want   []string // substrings of the error: the key and the problem
	}{
		{"bad id", func(s *Station) { s.ID = "a b" }, []string{`stations[1].id: "a b" must match`}},
		{"empty id", func(s *Station) { s.ID = "" }, []string{`stations[1].id: ""`}},
		{"duplicate id", func(s *Station) { s.ID = "A" }, []string{"stations[1] (A).id: duplicate"}},
		{"zero interval", func(s *Station) { s.Interval = 0 }, []string{"stations[1] (B).interval: must be a positive"}},
		{"negative interval", func(s *Station) { s.Interval = -time.Minute }, []string{"stations[1] (B).interval"}},
		{"lat", func(s *Station) { s.Lat = 91 }, []string{"stations[1] (B).lat: 91 out of range"}},
		{"lat NaN", func(s *Station) { s.Lat = math.NaN() }, []string{"stations[1] (B).lat: NaN"}},
		{"lon", func(s *Station) { s.Lon = -180.5 }, []string{"stations[1] (B).lon: -180.5"}},
		{"lon Inf", func(s *Station) { s.Lon = math.Inf(1) }, []string{"stations[1] (B).lon: +Inf"}},
		{"no sensors", func(s *Station) { s.Sensors = nil; s.AlarmLevelsM = Levels{}; s.Verified = nil },
			[]string{"stations[1] (B).sensors: at least one"}},
		{"unknown sensor", func(s *Station) { s.Sensors = append(s.Sensors, "pressure") }, []string{`stations[1] (B).sensors[1]: unknown sensor kind "pressure"`}},
		{"levels not rising", func(s *Station) { s.AlarmLevelsM = Levels{I: 3, II: 2, III: 4} }, []string{"stations[1] (B).alarm_levels_m: levels must be finite and rise I < II < III, got 3 / 2 / 4"}},
		{"levels equal", func(s *Station) { s.AlarmLevelsM = Levels{I: 2, II: 2, III: 4} }, []string{"stations[1] (B).alarm_levels_m"}},
		{"levels partly unset", func(s *Station) { s.AlarmLevelsM = Levels{I: 2} }, []string{"stations[1] (B).alarm_levels_m"}},
		{"levels Inf", func(s *Station) { s.AlarmLevelsM = Levels{I: 1, II: 2, III: math.Inf(1)} }, []string{"stations[1] (B).alarm_levels_m"}},
		{"levels NaN", func(s *Station) { s.AlarmLevelsM = Levels{I: 1, II: math.NaN(), III: 3} }, []string{"stations[1] (B).alarm_levels_m"}},
		{"water levels without water_level sensor", func(s *Station) { s.Sensors = []Sensor{Rainfall} },
			[]string{"stations[1] (B).alarm_levels_m: station has no water_level sensor"}},
		{"flood levels not rising", func(s *Station) {
			s.Sensors = append(s.Sensors, FloodDepth)
			s.FloodDepthLevelsCM = Levels{I: 50, II: 30, III: 10}
		}, []string{"stations[1] (B).flood_depth_levels_cm: levels must"}},
		{"flood levels without flood_depth sensor", func(s *Station) { s.FloodDepthLevelsCM = Levels{I: 10, II: 30, III: 50} },
			[]string{"stations[1] (B).flood_depth_levels_cm: station has no flood_depth sensor"}},
		{"verified bad key", func(s *Station) { s.Verified = map[string]string{"IV": "bulletin"} }, []string{`stations[1] (B).verified["IV"]: key must be`}},
		{"verified empty value", func(s *Station) { s.Verified = map[string]string{"II": ""} }, []string{`stations[1] (B).verified["II"]: empty`}},
		{"verified without levels", func(s *Station) { s.AlarmLevelsM = Levels{} }, []string{"stations[1] (B).verified: station has no alarm levels"}},
		{"saturation without soil_moisture sensor", func(s *Station) { s.SaturationPct = 45 },
			[]string{"stations[1] (B).saturation_pct: station has no soil_moisture sensor"}},
		{"saturation above 100", func(s *Station) { s.Sensors = append(s.Sensors, SoilMoisture); s.SaturationPct = 120 },
			[]string{"stations[1] (B).saturation_pct: must be in (0, 100], got 120"}},
		{"saturation NaN", func(s *Station) { s.Sensors = append(s.Sensors, SoilMoisture); s.SaturationPct = math.NaN() },
			[]string{"stations[1] (B).saturation_pct: must be in (0, 100]"}},
		{"hazard zone 4", func(s *Station) { s.HazardZone = 4 }, []string{"stations[1] (B).hazard_zone: must be 1 (low) to 3 (high), got 4"}},
		{"hazard zone negative", func(s *Station) { s.HazardZone = -1 }, []string{"stations[1] (B).hazard_zone: must be 1"}},
		{"several problems reported together", func(s *Station) { s.Lat = 100; s.Interval = 0 },
			[]string{"stations[1] (B).interval", "stations[1] (B).lat"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := validStation("B")
			c.mutate(&b)
			r, err := NewRegistry([]Station{validStation("A"), b})
			if err == nil || r != nil {
				t.Fatalf("accepted: %v", r.IDs())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRegistry(t *testing.T) {
	in := []Station{validStation("C"), validStation("A"), validStation("B")}
	r, err := NewRegistry(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || !reflect.DeepEqual(r.IDs(), []string{"A", "B", "C"}) {
		t.Fatalf("ids %v", r.IDs())
	}
	if r.Lookup("B") == nil || r.Lookup("B").ID != "B" || r.Lookup("b") != nil || r.Lookup("") != nil {
		t.Fatal("lookup")
	}
	// The registry is a copy: changing the input or the IDs slice does not change it.
	in[0].Sensors[0] = Rainfall
	in[0].Verified["I"] = "changed"
	ids := r.IDs()
	ids[0] = "Z"
	if c := r.Lookup("C"); c.Sensors[0] != WaterLevel || c.Verified["I"] != "estimate" || r.IDs()[0] != "A" {
		t.Fatal("registry shares memory with its input")
	}
	if !r.Lookup("A").HasSensor(WaterLevel) || r.Lookup("A").HasSensor(Rainfall) {
		t.Fatal("HasSensor")
	}
	var nilReg *Registry
	if nilReg.Lookup("A") != nil {
		t.Fatal("nil registry lookup")
	}
	empty, err := NewRegistry(nil)
	if err != nil || empty.Len() != 0 {
		t.Fatalf("empty registry: %v", err)
	}
}

func TestParseRegistry(t *testing.T) {
	const ok = `
stations:
  - id: S-1
    name: "One"
    basin: han
    district: "Hải Châu"
    lat: 16.04
    lon: 108.21
    interval: 1m30s
    sensors: [flood_depth, battery]
    flood_depth_levels_cm: {I: 10, II: 30, III: 50}
    rain_counter: true
    verified: {I: estimate, II: official, III: bulletin}
`
	r, err := ParseRegistry([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Lookup("S-1")
	want := Station{ID: "S-1", Name: "One", Basin: "han", District: "Hải Châu", Lat: 16.04, Lon: 108.21, Interval: 90 * time.Second,
		Sensors: []Sensor{FloodDepth, Battery}, FloodDepthLevelsCM: Levels{I: 10, II: 30, III: 50}, RainCounter: true,
		Verified: map[string]string{"I": "estimate", "II": "official", "III": "bulletin"}}
	if !reflect.DeepEqual(*s, want) {
		t.Fatalf("got %+v\nwant %+v", *s, want)
	}
	for _, c := range []struct{ name, doc, want string }{
		{"empty", ``, "stations: EOF"},
		{"no stations", `stations: []`, "at least one station"},
		{"unknown key", "stations:\n  - id: A\n    colour: red\n", "field colour not found"},
		{"unknown top-level key", "stationz: []\n", "field stationz not found"},
		{"interval without unit", "stations:\n  - id: A\n    interval: 10\n    sensors: [rainfall]\n", "cannot unmarshal"},
		{"interval not a duration", "stations:\n  - id: A\n    interval: soon\n    sensors: [rainfall]\n", "soon"},
		{"verified not a map", "stations:\n  - id: A\n    interval: 1m\n    sensors: [rainfall]\n    verified: yes\n", "cannot unmarshal"},
		{"levels bad key", "stations:\n  - id: A\n    interval: 1m\n    sensors: [water_level]\n    alarm_levels_m: {I: 1, II: 2, IV: 3}\n", "field IV not found"},
		{"validation error", "stations:\n  - id: A\n    interval: 1m\n    sensors: [rainfall]\n    lat: 99\n", "stations[0] (A).lat"},
		{"not YAML", "stations: [", "stations:"},
	} {
		if _, err := ParseRegistry([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestLoadRegistryStationsYAML(t *testing.T) {
	r, err := LoadRegistry(stationsYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HAN-CAMLE", "LS-BANANA", "LS-HAIVAN", "RG-HOAPHU", "RG-SONTRA", "TB-CAULAU", "TB-GIAOTHUY", "TB-HOIAN",
		"TB-NONGSON", "UF-NGUYENHUUTHO", "VG-AINGHIA", "VG-HOIKHACH"}
	if !reflect.DeepEqual(r.IDs(), want) {
		t.Fatalf("ids %v", r.IDs())
	}
	ai := r.Lookup("VG-AINGHIA")
	if ai.Name != "Ái Nghĩa" || ai.River != "Vu Gia" || ai.Interval != 10*time.Minute || ai.AlarmLevelsM != (Levels{I: 6.5, II: 8, III: 9}) ||
		!reflect.DeepEqual(ai.Verified, map[string]string{"I": "estimate", "II": "bulletin", "III": "bulletin"}) {
		t.Fatalf("VG-AINGHIA %+v", ai)
	}
	uf := r.Lookup("UF-NGUYENHUUTHO")
	if uf.Interval != 5*time.Minute || uf.FloodDepthLevelsCM != (Levels{I: 10, II: 30, III: 50}) || uf.AlarmLevelsM.Set() {
		t.Fatalf("UF-NGUYENHUUTHO %+v", uf)
	}
	if s := r.Lookup("RG-SONTRA"); !reflect.DeepEqual(s.Sensors, []Sensor{Rainfall, WindSpeed, WindGust}) || s.Verified != nil {
		t.Fatalf("RG-SONTRA %+v", s)
	}
	if _, err := LoadRegistry("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "station registry") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestAlertIDs(t *testing.T) {
	start := time.Date(2025, 10, 28, 2, 40, 0, 0, time.UTC)
	id := AlertID("VG-AINGHIA", "wl_alarm", start)
	if id != AlertID("VG-AINGHIA", "wl_alarm", start.In(time.FixedZone("ICT", 7*3600))) {
		t.Fatal("AlertID depends on the time zone")
	}
	if !strings.HasPrefix(id, "VG-AINGHIA-") || len(id) != len("VG-AINGHIA-")+16 {
		t.Fatalf("AlertID %q", id)
	}
	others := []string{
		AlertID("VG-AINGHIA", "wl_alarm", start.Add(time.Nanosecond)),
		AlertID("VG-AINGHIA", "wl_alarm2", start),
		AlertID("VG-HOIKHACH", "wl_alarm", start),
		// The separator keeps (station, rule) pairs apart.
		AlertID("VG-AINGHIA", "", start),
	}
	for _, o := range others {
		if o == id {
			t.Fatalf("AlertID collision %s", o)
		}
	}
	if AlertID("a", "bc", start)[2:] == AlertID("ab", "c", start)[3:] {
		t.Fatal("AlertID hash ignores the station/rule boundary")
	}
	at := start.Add(10 * time.Minute)
	ev := EventID(id, AlertEscalated, 2, at)
	if ev != id+":escalated:2:"+"1761619800000000000" {
		t.Fatalf("EventID %q", ev)
	}
	if ev != EventID(id, AlertEscalated, 2, at.In(time.FixedZone("ICT", 7*3600))) {
		t.Fatal("EventID depends on the time zone")
	}
	for _, o := range []string{EventID(id, AlertFired, 2, at), EventID(id, AlertEscalated, 3, at), EventID(id, AlertEscalated, 2, at.Add(1))} {
		if o == ev {
			t.Fatalf("EventID collision %s", o)
		}
	}
}
