package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/schemas"
)

// clearSecretEnv makes the validators that consult the environment for
// secrets deterministic.
func clearSecretEnv(t *testing.T) {
	t.Setenv("RESILIENCE_MQTT_PASSWORD", "")
	t.Setenv("RESILIENCE_INFLUX_TOKEN", "")
}

func TestParseUnknownKey(t *testing.T) {
	tests := []struct{ name, doc, key string }{
		{"top level", "stations_file: s.yaml\nstation_file: typo.yaml\n", "station_file"},
		{"nested", "kafka:\n  partitions: 3\n  partitons: 4\n", "partitons"},
		{"embedded", "mqtt:\n  embedded:\n    credentials: c.yaml\n", "credentials"},
		{"ingest", "ingest:\n  mqtt-url: tcp://x:1\n", "mqtt-url"},
		{"yaml:- field is not a key", "dev: true\n", "dev"},
		{"data_dir of embedded is not a key", "kafka:\n  embedded:\n    data_dir: /x\n", "data_dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.doc), "/etc/resilience")
			if err == nil {
				t.Fatal("Parse accepted an unknown key")
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name %s", err, tc.key)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, doc := range []string{
		"kafka:\n  partitions: many\n",
		"processor:\n  session_timeout: soon\n",
		"kafka: [1, 2]\n",
		"stations_file: [a\n",
	} {
		if _, err := ParseConfig([]byte(doc), "/b"); err == nil {
			t.Errorf("Parse(%q) = nil error", doc)
		} else if !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("Parse(%q) error %q lacks the config: prefix", doc, err)
		}
	}
}

func TestParseValuesAndPaths(t *testing.T) {
	base := filepath.FromSlash("/etc/resilience")
	doc := `
stations_file: stations.yaml
rules_file: /opt/rules.yaml
data_dir: ../../var/data
mqtt:
  embedded:
    listen: 127.0.0.1:1884
    credentials_file: secrets/creds.yaml
    max_inflight: 1000
kafka:
  brokers: [k1:9092, "k2:9092"]
  topic_prefix: staging.
  partitions: 12
ingest:
  password_file: mqtt.pw
  batch_wait: 7ms
processor:
  session_timeout: 45s
influx:
  url: http://127.0.0.1:8086
  token_file: /run/secrets/influx
  spool_dir: spool
`
	c, err := ParseConfig([]byte(doc), base)
	if err != nil {
		t.Fatal(err)
	}
	paths := []struct{ name, got, want string }{
		{"stations_file", c.StationsFile, filepath.Join(base, "stations.yaml")},
		{"rules_file", c.RulesFile, filepath.FromSlash("/opt/rules.yaml")},
		{"data_dir", c.DataDir, filepath.FromSlash("/var/data")},
		{"mqtt.embedded.credentials_file", c.MQTT.Embedded.CredentialsFile, filepath.Join(base, "secrets", "creds.yaml")},
		{"ingest.password_file", c.Ingest.PasswordFile, filepath.Join(base, "mqtt.pw")},
		{"influx.token_file", c.Influx.TokenFile, filepath.FromSlash("/run/secrets/influx")},
		{"influx.spool_dir", c.Influx.SpoolDir, filepath.Join(base, "spool")},
	}
	for _, p := range paths {
		if p.got != p.want {
			t.Errorf("%s = %q, want %q", p.name, p.got, p.want)
		}
	}
	if !reflect.DeepEqual(c.Kafka.Brokers, []string{"k1:9092", "k2:9092"}) || c.Kafka.TopicPrefix != "staging." ||
		c.Kafka.Partitions != 12 || c.Kafka.ReplicationFactor != 1 {
		t.Errorf("kafka = %+v", c.Kafka)
	}
	if c.MQTT.Embedded.Listen != "127.0.0.1:1884" || c.MQTT.Embedded.MaxInflight != 1000 {
		t.Errorf("mqtt.embedded = %+v", c.MQTT.Embedded)
	}
	if c.Ingest.BatchWait != 7*time.Millisecond || c.Processor.SessionTimeout != 45*time.Second {
		t.Errorf("durations: ingest.batch_wait=%s processor.session_timeout=%s", c.Ingest.BatchWait, c.Processor.SessionTimeout)
	}
	// Untouched keys keep their defaults.
	d := DefaultConfig()
	if c.HTTP.Listen != d.HTTP.Listen || c.Processor.Group != d.Processor.Group || c.Ingest.BatchSize != d.Ingest.BatchSize ||
		c.Influx.Org != d.Influx.Org {
		t.Errorf("defaults lost: http.listen=%q processor.group=%q ingest.batch_size=%d influx.org=%q",
			c.HTTP.Listen, c.Processor.Group, c.Ingest.BatchSize, c.Influx.Org)
	}
	if c.EmbeddedKafka() || c.EmbeddedMQTT() != true {
		t.Errorf("EmbeddedKafka=%v EmbeddedMQTT=%v, want false, true", c.EmbeddedKafka(), c.EmbeddedMQTT())
	}
}

func TestParseEmptyIsDefaults(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "---\n"} {
		c, err := ParseConfig([]byte(doc), "/b")
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		d := DefaultConfig()
		if c.StationsFile != filepath.Join("/b", d.StationsFile) || c.DataDir != filepath.Join("/b", d.DataDir) {
			t.Errorf("Parse(%q): default paths not resolved: %q %q", doc, c.StationsFile, c.DataDir)
		}
		if c.RulesFile != "" || c.Influx.TokenFile != "" {
			t.Errorf("Parse(%q): empty paths must stay empty: rules_file=%q influx.token_file=%q", doc, c.RulesFile, c.Influx.TokenFile)
		}
		if !c.EmbeddedKafka() || !c.EmbeddedMQTT() {
			t.Errorf("Parse(%q): defaults must be embedded", doc)
		}
	}
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		env, value string
		get        func(*Config) any
		want       any
	}{
		{"RESILIENCE_STATIONS_FILE", "/s.yaml", func(c *Config) any { return c.StationsFile }, "/s.yaml"},
		{"RESILIENCE_RULES_FILE", "/r.yaml", func(c *Config) any { return c.RulesFile }, "/r.yaml"},
		{"RESILIENCE_DATA_DIR", "/d", func(c *Config) any { return c.DataDir }, "/d"},
		{"RESILIENCE_HTTP_LISTEN", "127.0.0.1:9", func(c *Config) any { return c.HTTP.Listen }, "127.0.0.1:9"},
		{"RESILIENCE_MQTT_URL", "tcp://m:1883", func(c *Config) any { return c.Ingest.URL }, "tcp://m:1883"},
		{"RESILIENCE_MQTT_USERNAME", "collector", func(c *Config) any { return c.Ingest.Username }, "collector"},
		{"RESILIENCE_MQTT_PASSWORD_FILE", "/pw", func(c *Config) any { return c.Ingest.PasswordFile }, "/pw"},
		{"RESILIENCE_MQTT_CLIENT_ID", "c-7", func(c *Config) any { return c.Ingest.ClientID }, "c-7"},
		{"RESILIENCE_INFLUX_URL", "http://i:8086", func(c *Config) any { return c.Influx.URL }, "http://i:8086"},
		{"RESILIENCE_INFLUX_ORG", "o", func(c *Config) any { return c.Influx.Org }, "o"},
		{"RESILIENCE_INFLUX_BUCKET", "b", func(c *Config) any { return c.Influx.Bucket }, "b"},
		{"RESILIENCE_INFLUX_TOKEN_FILE", "/tok", func(c *Config) any { return c.Influx.TokenFile }, "/tok"},
		{"RESILIENCE_PROCESSOR_GROUP", "g", func(c *Config) any { return c.Processor.Group }, "g"},
		{"RESILIENCE_KAFKA_TOPIC_PREFIX", "t.", func(c *Config) any { return c.Kafka.TopicPrefix }, "t."},
		{"RESILIENCE_EMBEDDED_MQTT_LISTEN", "127.0.0.1:2", func(c *Config) any { return c.MQTT.Embedded.Listen }, "127.0.0.1:2"},
		{"RESILIENCE_EMBEDDED_KAFKA_LISTEN", "127.0.0.1:3", func(c *Config) any { return c.Kafka.Embedded.Listen }, "127.0.0.1:3"},
		{"RESILIENCE_KAFKA_BROKERS", " k1:9092, ,k2:9092 ", func(c *Config) any { return c.Kafka.Brokers }, []string{"k1:9092", "k2:9092"}},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			c := DefaultConfig()
			before := c
			c.ApplyEnv(func(k string) string {
				if k == tc.env {
					return tc.value
				}
				return ""
			})
			if got := tc.get(&c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s=%q: got %#v, want %#v", tc.env, tc.value, got, tc.want)
			}
			// Nothing else changed.
			if d := diff(reflect.ValueOf(before), reflect.ValueOf(c), "Config"); len(d) != 1 {
				t.Errorf("%s changed %d fields, want 1: %v", tc.env, len(d), d)
			}
		})
	}
	t.Run("unset keeps values", func(t *testing.T) {
		c := DefaultConfig()
		c.ApplyEnv(func(string) string { return "" })
		if !reflect.DeepEqual(c, DefaultConfig()) {
			t.Errorf("ApplyEnv with an empty environment changed the config")
		}
	})
}

// diff lists the leaf fields where a and b differ.
func diff(a, b reflect.Value, path string) []string {
	if a.Kind() == reflect.Struct {
		var out []string
		for i := 0; i < a.NumField(); i++ {
			out = append(out, diff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
		}
		return out
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return []string{path}
	}
	return nil
}

func TestApplyEnvAllAtOnce(t *testing.T) {
	// Setting every variable at once must set every field (no variable
	// overwrites another's field).
	env := map[string]string{
		"RESILIENCE_DATA_DIR": "/d", "RESILIENCE_MQTT_URL": "tcp://m:1", "RESILIENCE_INFLUX_URL": "http://i:1",
		"RESILIENCE_EMBEDDED_MQTT_LISTEN": "127.0.0.1:2", "RESILIENCE_EMBEDDED_KAFKA_LISTEN": "127.0.0.1:3",
		"RESILIENCE_HTTP_LISTEN": "127.0.0.1:4",
	}
	c := DefaultConfig()
	c.ApplyEnv(func(k string) string { return env[k] })
	if c.DataDir != "/d" || c.Ingest.URL != "tcp://m:1" || c.Influx.URL != "http://i:1" ||
		c.MQTT.Embedded.Listen != "127.0.0.1:2" || c.Kafka.Embedded.Listen != "127.0.0.1:3" || c.HTTP.Listen != "127.0.0.1:4" {
		t.Errorf("config after ApplyEnv: %+v", c)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte("data_dir: d\nkafka:\n  partitions: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RESILIENCE_KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("RESILIENCE_DATA_DIR", "")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "d") || c.Kafka.Partitions != 2 || !reflect.DeepEqual(c.Kafka.Brokers, []string{"127.0.0.1:9092"}) {
		t.Errorf("Load: data_dir=%q partitions=%d brokers=%v", c.DataDir, c.Kafka.Partitions, c.Kafka.Brokers)
	}
	t.Setenv("RESILIENCE_DATA_DIR", "/from-env")
	if c, err = LoadConfig(path); err != nil || c.DataDir != "/from-env" {
		t.Errorf("environment must override the file: data_dir=%q err=%v", c.DataDir, err)
	}

	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load of a missing file = nil error")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("bogus_key: 1\n"), 0o600)
	if _, err := LoadConfig(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "bogus_key") {
		t.Errorf("Load of a bad file: %v, want an error naming the file and the key", err)
	}
}

// valid returns a config that validates: defaults, embedded brokers, --dev.
func valid() Config {
	c := DefaultConfig()
	c.Dev = true
	return c
}

func TestValidateDefaults(t *testing.T) {
	clearSecretEnv(t)
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with Dev: %v", err)
	}
	c = DefaultConfig()
	c.MQTT.Embedded.CredentialsFile = "/etc/resilience/credentials.yaml"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with a credentials file: %v", err)
	}
	c = valid()
	c.Kafka.Brokers = []string{"127.0.0.1:9092", "[::1]:9093"}
	c.Ingest.URL = "ssl://mqtt.example:8883"
	c.Ingest.Username, c.Ingest.PasswordFile = "collector", "/pw"
	c.Influx.URL, c.Influx.TokenFile = "https://influx.example", "/tok"
	c.Kafka.TopicPrefix = "Staging_1.a-b"
	if err := c.Validate(); err != nil {
		t.Fatalf("external brokers: %v", err)
	}
}

func TestValidateNamesKeys(t *testing.T) {
	tests := []struct {
		key    string
		mutate func(*Config)
		errs   int // how many problems the mutation causes (default 1)
	}{
		{"stations_file", func(c *Config) { c.StationsFile = "" }, 0},
		{"data_dir", func(c *Config) { c.DataDir = "" }, 0},
		{"memory_limit", func(c *Config) { c.MemoryLimit = "lots" }, 0},
		{"memory_limit", func(c *Config) { c.MemoryLimit = "-90MiB" }, 0},
		{"http.listen", func(c *Config) { c.HTTP.Listen = "8080" }, 0},
		{"kafka.partitions", func(c *Config) { c.Kafka.Partitions = 0 }, 0},
		{"kafka.partitions", func(c *Config) { c.Kafka.Partitions = 1001 }, 0},
		{"kafka.topic_prefix", func(c *Config) { c.Kafka.TopicPrefix = "a/b" }, 0},
		{"kafka.topic_prefix", func(c *Config) { c.Kafka.TopicPrefix = strings.Repeat("p", 101) }, 0},
		{"kafka.replication_factor", func(c *Config) { c.Kafka.ReplicationFactor = 0 }, 0},
		{"kafka.brokers[1]", func(c *Config) { c.Kafka.Brokers = []string{"k:9092", "k2"} }, 0},
		{"mqtt.embedded.credentials_file", func(c *Config) { c.Dev = false }, 0},
		{"alerts.nflog.kind", func(c *Config) { c.Alerts.NFLog.Kind = "redis" }, 0},
		{"alerts.nflog.retention", func(c *Config) { c.Alerts.NFLog.Retention = time.Minute }, 2},
		{"alerts.notify_max_age", func(c *Config) { c.Alerts.NotifyMaxAge = 0 }, 0},
		{"alerts.notify_max_age", func(c *Config) { c.Alerts.NotifyMaxAge = 30 * 24 * time.Hour }, 0},
		{"alerts.resolved_retention", func(c *Config) { c.Alerts.ResolvedRetention = time.Second }, 0},
		{"alerts.console_url", func(c *Config) { c.Alerts.ConsoleURL = "console.local" }, 0},
		{"alerts.smtp.addr", func(c *Config) { c.Alerts.SMTP.Addr = "mail"; c.Alerts.SMTP.From = "a@b" }, 0},
		{"alerts.smtp.from", func(c *Config) { c.Alerts.SMTP.Addr = "mail:25" }, 0},
		{"alerts.mqtt_url", func(c *Config) { c.Alerts.MQTTURL = "broker" }, 0},
		{"ingest.mqtt_url", func(c *Config) { c.Ingest.URL = "http://broker:1883" }, 0},
		{"ingest.mqtt_url", func(c *Config) { c.Ingest.URL = "tcp://" }, 0},
		{"ingest.client_id", func(c *Config) { c.Ingest.ClientID = "" }, 0},
		{"ingest.client_id", func(c *Config) { c.Ingest.ClientID = strings.Repeat("c", 129) }, 0},
		{"ingest.max_undelivered", func(c *Config) { c.Ingest.MaxUndelivered, c.Ingest.BatchSize = 0, 0 }, 2},
		{"ingest.batch_size", func(c *Config) { c.Ingest.BatchSize = 0 }, 0},
		{"ingest.batch_size", func(c *Config) { c.Ingest.BatchSize = c.Ingest.MaxUndelivered + 1 }, 0},
		{"ingest.batch_wait", func(c *Config) { c.Ingest.BatchWait = 2 * time.Second }, 0},
		{"ingest.batch_wait", func(c *Config) { c.Ingest.BatchWait = -1 }, 0},
		{"ingest.keepalive", func(c *Config) { c.Ingest.KeepAlive = 0 }, 0},
		{"ingest.max_payload", func(c *Config) { c.Ingest.MaxPayload = 10 }, 0},
		{"ingest.max_future", func(c *Config) { c.Ingest.MaxFuture = -time.Second }, 0},
		{"ingest.password_file", func(c *Config) { c.Ingest.Username = "collector" }, 0},
		{"processor.group", func(c *Config) { c.Processor.Group = "" }, 0},
		{"processor.batch_size", func(c *Config) { c.Processor.BatchSize = 0 }, 0},
		{"processor.batch_wait", func(c *Config) { c.Processor.BatchWait = 11 * time.Second }, 0},
		{"processor.tick_interval", func(c *Config) { c.Processor.TickInterval = time.Millisecond }, 0},
		{"processor.session_timeout", func(c *Config) { c.Processor.SessionTimeout = time.Second }, 0},
		{"processor.stop_timeout", func(c *Config) { c.Processor.StopTimeout = 0 }, 0},
		{"influx.url", func(c *Config) { c.Influx.URL, c.Influx.TokenFile = "udp://i:8089", "/t" }, 0},
		{"influx.org", func(c *Config) { c.Influx.URL, c.Influx.TokenFile, c.Influx.Org = "http://i:8086", "/t", "" }, 0},
		{"influx.bucket", func(c *Config) { c.Influx.URL, c.Influx.TokenFile, c.Influx.Bucket = "http://i:8086", "/t", "" }, 0},
		{"influx.token_file", func(c *Config) { c.Influx.URL = "http://i:8086" }, 0},
		{"influx.timeout", func(c *Config) { c.Influx.URL, c.Influx.TokenFile, c.Influx.Timeout = "http://i:8086", "/t", 0 }, 0},
		{"influx.attempts", func(c *Config) { c.Influx.URL, c.Influx.TokenFile, c.Influx.Attempts = "http://i:8086", "/t", 0 }, 0},
	}
	clearSecretEnv(t)
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted a bad %s", tc.key)
			}
			lines := strings.Split(err.Error(), "\n")
			want := tc.errs
			if want == 0 {
				want = 1
			}
			if len(lines) != want {
				t.Errorf("%d problems, want %d:\n%s", len(lines), want, err)
			}
			if !strings.HasPrefix(lines[0], tc.key+":") && !strings.HasPrefix(lines[0], tc.key+" ") {
				t.Errorf("error %q does not start with the key %s", lines[0], tc.key)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	clearSecretEnv(t)
	c := DefaultConfig()
	c.StationsFile = ""
	c.Kafka.Partitions = 0
	c.Kafka.TopicPrefix = "bad prefix"
	c.Ingest.BatchSize = 0
	c.Processor.SessionTimeout = 0
	c.Influx.URL = "http://i:8086"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate = nil")
	}
	for _, key := range []string{"stations_file", "kafka.partitions", "kafka.topic_prefix", "mqtt.embedded.credentials_file",
		"ingest.batch_size", "processor.session_timeout", "influx.token_file"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("error does not name %s:\n%s", key, err)
		}
	}
}

func TestValidateSecretsFromEnv(t *testing.T) {
	c := valid()
	c.Ingest.Username = "collector"
	c.Influx.URL = "http://i:8086"
	t.Setenv("RESILIENCE_MQTT_PASSWORD", "pw")
	t.Setenv("RESILIENCE_INFLUX_TOKEN", "tok")
	if err := c.Validate(); err != nil {
		t.Errorf("secrets from the environment: %v", err)
	}
}

func TestShippedConfig(t *testing.T) {
	clearSecretEnv(t)
	path := filepath.Join("..", "..", "deployments", "config", "resilience.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data, base)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c.Dev = true
	if err := c.Validate(); err != nil {
		t.Fatalf("%s with Dev: %v", path, err)
	}
	// Without --dev it needs its credentials file, which it names.
	c.Dev = false
	if err := c.Validate(); err != nil {
		t.Fatalf("%s without Dev: %v", path, err)
	}
	if !c.EmbeddedKafka() || !c.EmbeddedMQTT() {
		t.Errorf("the shipped config must run the embedded brokers")
	}
	// The files it names exist and load.
	if _, err := schemas.LoadRegistry(c.StationsFile); err != nil {
		t.Errorf("stations_file %s: %v", c.StationsFile, err)
	}
	// Without --dev the broker needs credentials.yaml, which is not shipped
	// (no known password may ever work); the shipped template loads.
	if filepath.Base(c.MQTT.Embedded.CredentialsFile) != "credentials.yaml" {
		t.Errorf("mqtt.embedded.credentials_file = %s, want the git-ignored credentials.yaml", c.MQTT.Embedded.CredentialsFile)
	}
	example := filepath.Join(filepath.Dir(c.MQTT.Embedded.CredentialsFile), "credentials.example.yaml")
	if _, err := embedded.LoadCredentials(example); err != nil {
		t.Errorf("%s: %v", example, err)
	}
	if want := filepath.Join(base, "..", "..", "data"); c.DataDir != want {
		t.Errorf("data_dir = %q, want %q (relative to the file)", c.DataDir, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "deployments", "config", "resilience.yaml")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"stations_file: s.yaml\n",
		"kafka:\n  brokers: [a:1, b]\n  partitions: -3\n  topic_prefix: \"x/y\"\n",
		"ingest:\n  batch_wait: 5ms\n  max_undelivered: 0\n",
		"processor:\n  session_timeout: 1h\n",
		"influx:\n  url: http://[::1]:8086\n",
		"mqtt:\n  embedded:\n    max_inflight: 70000\n",
		"http: {listen: ':0'}\n",
		"&a [*a]",
		"a: &a {b: *a}\n",
		"? [1]\n: 2\n",
		"--- !!map\n!!str x: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "/base")
		if err != nil {
			return
		}
		for _, p := range []string{c.StationsFile, c.RulesFile, c.DataDir, c.MQTT.Embedded.CredentialsFile,
			c.Ingest.PasswordFile, c.Influx.TokenFile, c.Influx.SpoolDir} {
			if p != "" && !filepath.IsAbs(p) {
				t.Errorf("path %q not resolved against the base", p)
			}
		}
		_ = c.Validate()
		c.Dev = true
		_ = c.Validate()
	})
}
