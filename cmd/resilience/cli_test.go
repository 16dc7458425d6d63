package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	// A storm at Ái Nghĩa (BĐ I 6.5, II 8.0, III 9.0): 6.0 m rising 0.25 m
	// every 10 minutes to 9.5 m, then falling.
	var csv strings.Builder
	csv.WriteString("ts,station,sensor,value,seq\n")
	start := time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)
	for i := 0; i <= 28; i++ {
		v := 6.0 + 0.25*float64(min(i, 14)) - 0.25*float64(max(0, i-14))
		fmt.Fprintf(&csv, "%s,VG-AINGHIA,water_level,%.2f,%d\n", start.Add(time.Duration(i)*10*time.Minute).Format(time.RFC3339), v, i+1)
	}
	csvPath := filepath.Join(dir, "storm.csv")
	must(t, os.WriteFile(csvPath, []byte(csv.String()), 0o600))
	badRules := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(badRules, []byte("rules:\n  - kind: level\n    sensor: water_level\n    levels: [{threshold: 1, clear_margin: -1}]\n"), 0o600))
	stations := "../../deployments/config/stations.yaml"
	badConfig := filepath.Join(dir, "bad-config.yaml")
	must(t, os.WriteFile(badConfig, []byte("stations_file: "+stations+"\nkafka: {partitions: 0}\nprocessor: {batch_size: 0}\n"), 0o600))

	tests := []struct {
		name     string
		args     []string
		code     int
		out, err []string
	}{
		{"no command", nil, 2, nil, []string{"usage"}},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{"unknown command"}},
		{"check-config ok", []string{"check-config", "--config", "../../deployments/config/resilience.yaml", "--dev"}, 0, []string{"config ok"}, nil},
		{"check-config without --dev needs credentials", []string{"check-config", "--config", "../../deployments/config/resilience.yaml"}, 1, nil, []string{"mqtt.embedded.credentials_file", "hash-password"}},
		{"check-config names the key", []string{"check-config", "--config", badConfig}, 1, nil, []string{"kafka.partitions", "processor.batch_size"}},
		{"rules check ok", []string{"rules", "check", "../../deployments/config/rules.yaml"}, 0, []string{"ok ("}, nil},
		{"rules check bad", []string{"rules", "check", badRules}, 1, nil, []string{"clear_margin"}},
		{"backtest csv", []string{"rules", "backtest", "--stations", stations, "--csv", csvPath}, 0,
			[]string{"29 records", "fired", "escalated", "resolved", "VG-AINGHIA", "level:water_level", "lead times"}, nil},
		{"backtest needs a source", []string{"rules", "backtest", "--stations", stations}, 2, nil, []string{"SOURCE"}},
		{"hash-password too short", []string{"hash-password"}, 1, nil, []string{"at least 12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(tt.args, strings.NewReader("short\n"), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, s := range tt.out {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.err {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"hash-password"}, strings.NewReader("a-long-device-secret\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if h := strings.TrimSpace(stdout.String()); !strings.HasPrefix(h, "$2a$") || len(h) != 60 {
		t.Fatalf("not a bcrypt hash: %q", h)
	}
}
