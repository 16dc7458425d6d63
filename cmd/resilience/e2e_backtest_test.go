package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

// stormLevel is the water level of a storm at Ái Nghĩa (BĐ I 6.5, II 8.0,
// III 9.0): up through every level and back down, with a little noise so
// the stuck check stays quiet.
func stormLevel(i int) float64 {
	v := 5.0 + 0.25*float64(i)
	if i > 20 {
		v = 10.0 - 0.25*float64(i-20)
	}
	return v + 0.001*float64(i%3)
}

// TestBacktestEmbeddedPointsReproduceTheAlerts: a storm through the
// embedded stack (`resilience run --dev`, no InfluxDB: points go to
// data/points/*.lp), then `resilience rules backtest --lp data/points`
// over those files: it finds exactly the alerts the stack raised, with the
// same ids, levels and states.
func TestBacktestEmbeddedPointsReproduceTheAlerts(t *testing.T) {
	dataDir := t.TempDir()
	mqttAddr, httpAddr := startEmbedded(t, []string{"--dev"}, "RESILIENCE_DATA_DIR="+dataDir)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("VG-AINGHIA-storm").SetCleanSession(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	const n = 40
	start := time.Now().UTC().Add(-n * 10 * time.Minute).Truncate(time.Second)
	stations := map[string]uint64{"VG-AINGHIA": n, "RG-HOAPHU": n}
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * 10 * time.Minute).Format(time.RFC3339)
		msgs := map[string]string{
			"VG-AINGHIA": fmt.Sprintf(`{"v":1,"station":"VG-AINGHIA","seq":%d,"ts":%q,"readings":[{"sensor":"water_level","value":%.3f,"unit":"m"},{"sensor":"rainfall","value":%.1f,"unit":"mm"}]}`, i+1, ts, stormLevel(i), 4.0+float64(i%5)),
			"RG-HOAPHU":  fmt.Sprintf(`{"v":1,"station":"RG-HOAPHU","seq":%d,"ts":%q,"readings":[{"sensor":"rainfall","value":%.1f,"unit":"mm"}]}`, i+1, ts, 18.0+float64(i%4)),
		}
		for _, id := range []string{"VG-AINGHIA", "RG-HOAPHU"} {
			tok := c.Publish("stations/"+id+"/readings", 1, false, msgs[id])
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish %s seq %d: %v", id, i+1, tok.Error())
			}
		}
	}
	waitLastSeq(t, httpAddr, stations)

	var stdout, stderr bytes.Buffer
	code := realMain([]string{"rules", "backtest", "--stations", "../../deployments/config/stations.yaml",
		"--rules", "../../deployments/config/rules.yaml", "--lp", filepath.Join(dataDir, "points"), "--json"}, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("rules backtest: exit %d: %s", code, stderr.String())
	}
	found := backtestAlerts(t, stdout.String())
	if len(found) < 3 {
		t.Fatalf("the storm gave only %d alerts: %v", len(found), found)
	}
	// The alerts service applies the events a moment after the processor
	// committed them: wait until its store settles on the same alerts.
	// Basin alerts are the alerts service's own (across stations), not the
	// station rules that a backtest runs.
	var raised []string
	deadline := time.Now().Add(time.Minute)
	for {
		raised = stationAlerts(apiAlerts(t, httpAddr))
		if strings.Join(found, "\n") == strings.Join(raised, "\n") {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("backtest over the stack's points found\n  %s\nthe stack raised\n  %s\noutput:\n%s",
		strings.Join(found, "\n  "), strings.Join(raised, "\n  "), tail(stdout.String(), 4000))
}

// stationAlerts drops the basin alerts from apiAlerts' list.
func stationAlerts(list []string) []string {
	out := list[:0:0]
	for _, a := range list {
		if !strings.Contains(a, " basin:") {
			out = append(out, a)
		}
	}
	return out
}

// waitLastSeq polls /api/v1/stations until each station's last seq is in.
func waitLastSeq(t *testing.T, httpAddr string, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var body struct {
			Stations []struct {
				ID      string `json:"id"`
				LastSeq uint64 `json:"last_seq"`
			} `json:"stations"`
		}
		getJSON(t, "http://"+httpAddr+"/api/v1/stations", &body)
		done := 0
		for _, s := range body.Stations {
			if w, ok := want[s.ID]; ok && s.LastSeq >= w {
				done++
			}
		}
		if done == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stations not caught up after 2 min: %+v", body.Stations)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	must(t, err)
	harness.Authorize(req)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// apiAlerts lists the stack's alerts as "id rule level state", sorted.
func apiAlerts(t *testing.T, httpAddr string) []string {
	t.Helper()
	alerts, err := harness.AlertsAPI(context.Background(), httpAddr)
	must(t, err)
	var out []string
	for _, a := range alerts {
		out = append(out, fmt.Sprintf("%s %s level=%d %s", a.ID, a.Rule, a.Level, a.State))
	}
	sort.Strings(out)
	return out
}

// backtestAlerts folds the events the backtest printed (`--json`) into the
// same form as apiAlerts.
func backtestAlerts(t *testing.T, out string) []string {
	t.Helper()
	type alert struct {
		rule  string
		level int
		state string
	}
	byID := map[string]*alert{}
	for _, line := range strings.Split(out, "\n") {
		var ev struct {
			ID    string `json:"id"`
			Kind  string `json:"kind"`
			Rule  string `json:"rule"`
			Level int    `json:"level"`
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &ev) != nil || ev.ID == "" {
			continue
		}
		a := byID[ev.ID]
		if a == nil {
			a = &alert{rule: ev.Rule}
			byID[ev.ID] = a
		}
		a.state, a.level = "firing", ev.Level
		if ev.Kind == "resolved" {
			a.state = "resolved"
		}
	}
	var list []string
	for id, a := range byID {
		list = append(list, fmt.Sprintf("%s %s level=%d %s", id, a.rule, a.level, a.state))
	}
	sort.Strings(list)
	return list
}
