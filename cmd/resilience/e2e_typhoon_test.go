package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// TestRulesCheckCoverage: `rules check FILE STATIONS` lists the rules
// watching each sensor kind the registry declares and warns (exit 0) for
// each declared sensor no rule watches.
func TestRulesCheckCoverage(t *testing.T) {
	const stations = "../../deployments/config/stations.yaml"
	var out, errb bytes.Buffer
	if rc := rulesCmd([]string{"check", "../../deployments/config/rules.yaml", stations}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	for _, w := range []string{"sensor wind_speed: level:wind_speed", "sensor wind_gust: level:wind_gust",
		"sensor soil_moisture: landslide:tilt", "risk:rainfall", "rate:flood_depth"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "warning:") {
		t.Errorf("the default rules leave sensors unwatched:\n%s", out.String())
	}

	only := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(only, []byte("rules:\n  - {kind: level, sensor: wind_speed, levels: [{threshold: 17.2}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := rulesCmd([]string{"check", only, stations}, &out, &errb); rc != 0 {
		t.Fatalf("warnings must not fail the check: exit %d", rc)
	}
	for _, w := range []string{"sensor wind_speed: level:wind_speed", "sensor wind_gust: (none)",
		"warning: station RG-SONTRA declares wind_gust but no rule watches it there",
		"warning: station LS-HAIVAN declares soil_moisture but no rule watches it there"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "RG-SONTRA declares wind_speed") {
		t.Errorf("wind_speed is watched:\n%s", out.String())
	}
}

// typhoonStep is one 10-minute step of the typhoon replay.
const typhoonSteps = 60

// typhoonWind is the sustained wind at Sơn Trà: rising through every
// Beaufort band of Decision 18/2021 (10.8, 17.2, 24.5, 32.7, 51.0 m/s) and
// holding above the super-typhoon threshold.
func typhoonWind(i int) float64 {
	w := 6 + 1.4*float64(i)
	if w > 55 {
		w = 55 + 0.1*float64(i%3)
	}
	return w
}

// typhoonTilt is the Hải Vân slope's tilt (deg): an accelerating creep
// whose velocity is A/(tf - t) (the inverse velocity falls linearly to
// zero at tf = 10.2 h, Fukuzono's law), so the hourly tilt rate passes
// 0.01 deg/h in the first hours and 0.1 deg/h from about 9.2 h.
func typhoonTilt(i int) float64 {
	const a, tf = 0.15, 10.2
	t := float64(i) / 6
	return 1.0 + a*math.Log(tf/(tf-t))
}

// TestTyphoonReplay replays a typhoon through the embedded stack (`run
// --dev`, the shipped rules and registry): wind rising through the bands at
// Sơn Trà, heavy rain at Hòa Phú and on the Hải Vân slope, the slope's tilt
// accelerating while its soil nears saturation; two stations outside the
// storm report calm readings. It reads every alert event from the stack's
// `alerts` topic and checks the expected alerts, in order, with their
// grades, and that the stations outside the storm raised none.
func TestTyphoonReplay(t *testing.T) {
	mqttAddr, kafkaAddr, httpAddr := startEmbeddedKafka(t, "--dev")
	o := mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("typhoon-replay").SetCleanSession(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer c.Disconnect(100)

	start := time.Now().UTC().Add(-(typhoonSteps - 1) * 10 * time.Minute).Truncate(time.Second)
	type reading struct {
		sensor string
		value  float64
	}
	readings := func(i int) map[string][]reading {
		return map[string][]reading{
			"RG-SONTRA": {{"wind_speed", typhoonWind(i)}, {"wind_gust", 1.3 * typhoonWind(i)}, {"rainfall", 12}},
			"RG-HOAPHU": {{"rainfall", 20 + float64(i%2)}},
			"LS-HAIVAN": {{"tilt", typhoonTilt(i)}, {"soil_moisture", 30 + 0.4*float64(i)}, {"rainfall", 15}},
			// Outside the storm: calm river and a dry underpass.
			"VG-AINGHIA":      {{"water_level", 3.0 + 0.01*float64(i%3)}, {"rainfall", 0}},
			"UF-NGUYENHUUTHO": {{"flood_depth", 0.1 * float64(i%2)}},
		}
	}
	last := map[string]uint64{}
	for i := 0; i < typhoonSteps; i++ {
		ts := start.Add(time.Duration(i) * 10 * time.Minute).Format(time.RFC3339)
		for id, rs := range readings(i) {
			var parts []string
			for _, r := range rs {
				parts = append(parts, fmt.Sprintf(`{"sensor":%q,"value":%.4f}`, r.sensor, r.value))
			}
			msg := fmt.Sprintf(`{"v":1,"station":%q,"seq":%d,"ts":%q,"readings":[%s]}`, id, i+1, ts, strings.Join(parts, ","))
			tok := c.Publish("stations/"+id+"/readings", 1, false, msg)
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish %s seq %d: %v", id, i+1, tok.Error())
			}
			last[id] = uint64(i + 1)
		}
	}
	waitLastSeq(t, httpAddr, last)
	evs := readTopic(t, kafkaAddr, "alerts")

	byStation := map[string][]schemas.AlertEvent{}
	for _, e := range evs {
		byStation[e.Station] = append(byStation[e.Station], e)
	}
	for _, id := range []string{"RG-SONTRA", "RG-HOAPHU", "LS-HAIVAN"} {
		for _, e := range byStation[id] {
			t.Logf("%s %-9s %-20s %-10s level %d %q/%q Beaufort %d colour %q value %g", e.At.Format("15:04"), id, e.Rule, e.Kind, e.Level, e.LevelNameVI, e.LevelNameEN, e.Beaufort, e.Colour, e.Value)
		}
	}
	// Every alert raised says its grade in Vietnamese and English.
	for _, e := range evs {
		if (e.Kind == schemas.AlertFired || e.Kind == schemas.AlertEscalated) && (e.LevelNameVI == "" || e.LevelNameEN == "") {
			t.Errorf("%s %s %s level %d: grade names %q / %q, want both", e.Station, e.Rule, e.Kind, e.Level, e.LevelNameVI, e.LevelNameEN)
		}
	}
	for _, calm := range []string{"VG-AINGHIA", "UF-NGUYENHUUTHO"} {
		if len(byStation[calm]) > 0 {
			t.Errorf("%s is outside the storm but raised %v", calm, briefEvents(byStation[calm]))
		}
	}

	// Sơn Trà: one wind alert, fired at the tropical-depression band and
	// escalated through every band, in order, with the Beaufort number and
	// the Vietnamese and English grade names; the gusts likewise.
	bands := []struct {
		beaufort int
		vi, en   string
	}{{6, "áp thấp nhiệt đới", "tropical depression"}, {8, "bão", "storm"}, {10, "bão mạnh", "strong storm"},
		{12, "bão rất mạnh", "very strong storm"}, {16, "siêu bão", "super typhoon"}}
	for _, rule := range []string{"level:wind_speed", "level:wind_gust"} {
		got := ofRule(byStation["RG-SONTRA"], rule)
		if len(got) != len(bands) {
			t.Fatalf("Sơn Trà %s: %d events, want %d (one per band): %v", rule, len(got), len(bands), briefEvents(got))
		}
		for k, e := range got {
			wantKind := schemas.AlertEscalated
			if k == 0 {
				wantKind = schemas.AlertFired
			}
			b := bands[k]
			if e.Kind != wantKind || e.Level != k+1 || e.Beaufort != b.beaufort || e.LevelNameVI != b.vi || e.LevelNameEN != b.en || e.ID != got[0].ID {
				t.Errorf("Sơn Trà %s event %d: %s level %d Beaufort %d %q/%q (id %s), want %s level %d Beaufort %d %q/%q (id %s)",
					rule, k, e.Kind, e.Level, e.Beaufort, e.LevelNameVI, e.LevelNameEN, e.ID, wantKind, k+1, b.beaufort, b.vi, b.en, got[0].ID)
			}
			if k > 0 && e.At.Before(got[k-1].At) {
				t.Errorf("Sơn Trà %s: events out of time order: %v", rule, briefEvents(got))
			}
			if k < len(bands)-1 && e.TimeToNext <= 0 {
				t.Errorf("Sơn Trà %s event %d: no time to the next band while the wind rises", rule, k)
			}
		}
	}

	// Hòa Phú and Hải Vân: the official rain risk level rises, never falls,
	// in the decision's colours.
	colours := map[int]string{1: "light blue", 2: "light yellow", 3: "orange", 4: "red", 5: "purple"}
	for _, id := range []string{"RG-HOAPHU", "LS-HAIVAN"} {
		got := ofRule(byStation[id], "risk:rainfall")
		if len(got) < 2 || got[0].Kind != schemas.AlertFired {
			t.Fatalf("%s risk:rainfall: %v, want a fired event and at least one escalation", id, briefEvents(got))
		}
		for k, e := range got {
			if e.Kind != schemas.AlertFired && e.Kind != schemas.AlertEscalated || (k > 0 && e.Level <= got[k-1].Level) || e.Colour != colours[e.Level] {
				t.Errorf("%s risk:rainfall event %d: %s level %d colour %q; want rising levels in the decision's colours: %v", id, k, e.Kind, e.Level, e.Colour, briefEvents(got))
			}
		}
	}

	// Hải Vân: the landslide alert goes precaution (the slope creeps) →
	// warning (soil near saturation after heavy rain) → alarm (the creep
	// accelerates past 0.1 deg/h), with a time-to-failure estimate while it
	// accelerates.
	slide := ofRule(byStation["LS-HAIVAN"], "landslide:tilt")
	want := []string{"fired:1", "escalated:2", "escalated:3"}
	if got := briefEvents(slide); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Hải Vân landslide:tilt: %v, want %v", got, want)
	}
	if alarm := slide[2]; alarm.TimeToFailure <= 0 || alarm.LevelNameVI != "báo động sạt lở" {
		t.Errorf("Hải Vân alarm: time to failure %g s, grade %q: want an estimate and the Vietnamese grade", alarm.TimeToFailure, alarm.LevelNameVI)
	}
	// The storm's order: the slope's alarm comes last, after the wind has
	// reached super typhoon.
	if wind := ofRule(byStation["RG-SONTRA"], "level:wind_speed"); slide[2].At.Before(wind[len(wind)-1].At) {
		t.Errorf("landslide alarm at %s before the super-typhoon wind at %s", slide[2].At, wind[len(wind)-1].At)
	}
}

func ofRule(evs []schemas.AlertEvent, rule string) []schemas.AlertEvent {
	var out []schemas.AlertEvent
	for _, e := range evs {
		if e.Rule == rule {
			out = append(out, e)
		}
	}
	return out
}

func briefEvents(evs []schemas.AlertEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%s:%d", e.Kind, e.Level)
		if e.Rule != "" && len(evs) > 0 && evs[0].Rule != e.Rule {
			out[i] = e.Rule + "/" + out[i]
		}
	}
	return out
}

// startEmbeddedKafka is startEmbedded that also returns the embedded Kafka
// log's address.
func startEmbeddedKafka(t *testing.T, args ...string) (mqttAddr, kafkaAddr, httpAddr string) {
	t.Helper()
	dir := t.TempDir()
	mqttAddr, kafkaAddr, httpAddr = freeAddr(t), freeAddr(t), freeAddr(t)
	cfgPath, err := filepath.Abs("../../deployments/config/resilience.yaml")
	must(t, err)
	p, err := harness.StartProc(harness.ProcSpec{Bin: binPath, Name: "run", Mode: "run", Config: cfgPath, HTTP: httpAddr,
		Log: filepath.Join(dir, "run.log"), Args: args,
		Env: []string{"RESILIENCE_DATA_DIR=" + dir, "RESILIENCE_EMBEDDED_MQTT_LISTEN=" + mqttAddr, "RESILIENCE_EMBEDDED_KAFKA_LISTEN=" + kafkaAddr}})
	must(t, err)
	t.Cleanup(func() {
		p.Stop(15 * time.Second)
		if t.Failed() {
			t.Logf("--- run log ---\n%s", p.LogTail(6000))
		}
	})
	must(t, p.WaitReady(context.Background(), 90*time.Second))
	return mqttAddr, kafkaAddr, httpAddr
}

// readTopic reads every alert event of topic, partition by partition up to
// the end offsets it has now; events of one station are in one partition,
// in order.
func readTopic(t *testing.T, addr, topic string) []schemas.AlertEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	must(t, err)
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	must(t, err)
	var out []schemas.AlertEvent
	for _, p := range parts {
		pc, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		must(t, err)
		first, end, err := pc.ReadOffsets()
		pc.Close()
		must(t, err)
		if end <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
		must(t, r.SetOffset(first))
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s partition %d: %v", topic, p.ID, err)
			}
			var e schemas.AlertEvent
			must(t, json.Unmarshal(m.Value, &e))
			out = append(out, e)
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	return out
}
