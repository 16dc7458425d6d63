package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
