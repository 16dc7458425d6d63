package harness

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/ingest"
	"github.com/resilience-project/resilience/schemas"
)

// TestWriteConfigSubscription: collectors subscribe through the scenario's
// $share group unless Config.DirectSubscription asks for a direct
// subscription (chaos F2: Mosquitto 2.0 does not restore $share
// subscriptions after a crash).
func TestWriteConfigSubscription(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		prefix string
	}{
		{"shared by default", Config{}, "$share/chaos-t-1-abc/"},
		{"direct", Config{DirectSubscription: true}, "stations/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scenario{ID: "chaos-t-1-abc", Dir: t.TempDir(), Partitions: 4,
				Topics:  schemas.Topics("chaos-t-1-abc."),
				Servers: Servers{MQTTURL: "tcp://127.0.0.1:1883", KafkaBrokers: []string{"127.0.0.1:9092"}, InfluxURL: "http://127.0.0.1:8086", InfluxOrg: "o"}}
			path, err := s.WriteConfig("resilience", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			file := struct {
				Ingest ingest.Config `yaml:"ingest"`
			}{Ingest: ingest.DefaultConfig()}
			if err := yaml.Unmarshal(b, &file); err != nil {
				t.Fatalf("config does not parse: %v\n%s", err, b)
			}
			for _, f := range file.Ingest.Filters() {
				if !strings.HasPrefix(f, tc.prefix) {
					t.Errorf("filter %q, want prefix %q (share_group %q)", f, tc.prefix, file.Ingest.ShareGroup)
				}
			}
		})
	}
}
