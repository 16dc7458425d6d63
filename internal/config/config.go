package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/ingest"
	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/processor"
	"github.com/resilience-project/resilience/processor/influxsink"
)

// Kafka is the `kafka:` section.
type Kafka struct {
	// Brokers of the Kafka cluster; empty starts the embedded log.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix is put before every topic name, so that several
	// deployments (or test runs) can share one cluster.
	TopicPrefix       string               `yaml:"topic_prefix"`
	Partitions        int                  `yaml:"partitions"`
	ReplicationFactor int                  `yaml:"replication_factor"`
	Embedded          embedded.KafkaConfig `yaml:"embedded"`
}

// HTTP is the `http:` section.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// MQTT is the `mqtt:` section (the embedded broker).
type MQTT struct {
	Embedded embedded.MQTTConfig `yaml:"embedded"`
}

// Config is the whole configuration.
type Config struct {
	StationsFile string            `yaml:"stations_file"`
	RulesFile    string            `yaml:"rules_file"`
	DataDir      string            `yaml:"data_dir"`
	HTTP         HTTP              `yaml:"http"`
	MQTT         MQTT              `yaml:"mqtt"`
	Kafka        Kafka             `yaml:"kafka"`
	Ingest       ingest.Config     `yaml:"ingest"`
	Processor    processor.Config  `yaml:"processor"`
	Influx       influxsink.Config `yaml:"influx"`
	// Dev is set by `run --dev`: anonymous MQTT devices in embedded mode.
	Dev bool `yaml:"-"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		StationsFile: "stations.yaml",
		DataDir:      "data",
		HTTP:         HTTP{Listen: "127.0.0.1:8080"},
		MQTT:         MQTT{Embedded: embedded.MQTTConfig{Listen: "127.0.0.1:1883"}},
		Kafka:        Kafka{Partitions: 6, ReplicationFactor: 1, Embedded: embedded.KafkaConfig{Listen: "127.0.0.1:9092"}},
		Ingest:       ingest.DefaultConfig(),
		Processor:    processor.DefaultConfig(),
		Influx:       influxsink.DefaultConfig(),
	}
}

// Parse decodes a YAML document over the defaults. Unknown keys are errors.
// base resolves relative paths.
func Parse(data []byte, base string) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config: %w", err)
	}
	c.resolve(base)
	return c, nil
}

// Load reads a config file (empty path: defaults), then applies the
// environment.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if c, err = Parse(data, filepath.Dir(path)); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	c.ApplyEnv(os.Getenv)
	return c, nil
}

func (c *Config) resolve(base string) {
	for _, p := range []*string{&c.StationsFile, &c.RulesFile, &c.DataDir, &c.MQTT.Embedded.CredentialsFile,
		&c.Ingest.PasswordFile, &c.Influx.TokenFile, &c.Influx.SpoolDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// ApplyEnv applies RESILIENCE_* overrides.
func (c *Config) ApplyEnv(get func(string) string) {
	set := func(key string, dst *string) {
		if v := get(key); v != "" {
			*dst = v
		}
	}
	set("RESILIENCE_STATIONS_FILE", &c.StationsFile)
	set("RESILIENCE_RULES_FILE", &c.RulesFile)
	set("RESILIENCE_DATA_DIR", &c.DataDir)
	set("RESILIENCE_HTTP_LISTEN", &c.HTTP.Listen)
	set("RESILIENCE_MQTT_URL", &c.Ingest.URL)
	set("RESILIENCE_MQTT_USERNAME", &c.Ingest.Username)
	set("RESILIENCE_MQTT_PASSWORD_FILE", &c.Ingest.PasswordFile)
	set("RESILIENCE_MQTT_CLIENT_ID", &c.Ingest.ClientID)
	set("RESILIENCE_INFLUX_URL", &c.Influx.URL)
	set("RESILIENCE_INFLUX_ORG", &c.Influx.Org)
	set("RESILIENCE_INFLUX_BUCKET", &c.Influx.Bucket)
	set("RESILIENCE_INFLUX_TOKEN_FILE", &c.Influx.TokenFile)
	set("RESILIENCE_PROCESSOR_GROUP", &c.Processor.Group)
	set("RESILIENCE_KAFKA_TOPIC_PREFIX", &c.Kafka.TopicPrefix)
	set("RESILIENCE_EMBEDDED_MQTT_LISTEN", &c.MQTT.Embedded.Listen)
	set("RESILIENCE_MQTT_CREDENTIALS_FILE", &c.MQTT.Embedded.CredentialsFile)
	set("RESILIENCE_EMBEDDED_KAFKA_LISTEN", &c.Kafka.Embedded.Listen)
	if v := get("RESILIENCE_KAFKA_BROKERS"); v != "" {
		c.Kafka.Brokers = splitList(v)
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// RegisterFlags registers the flags of every component.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.StationsFile, "stations-file", c.StationsFile, "station registry YAML")
	fs.StringVar(&c.RulesFile, "rules-file", c.RulesFile, "rules YAML (empty: built-in defaults)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for embedded brokers, spool and local points")
	fs.StringVar(&c.HTTP.Listen, "http.listen", c.HTTP.Listen, "HTTP API address")
	fs.Func("kafka.brokers", "comma-separated Kafka bootstrap brokers (empty: embedded log)", func(v string) error {
		c.Kafka.Brokers = splitList(v)
		return nil
	})
	c.Ingest.RegisterFlags(fs)
	c.Processor.RegisterFlags(fs)
	c.Influx.RegisterFlags(fs)
}

var topicPrefixRe = regexp.MustCompile(`^[A-Za-z0-9._-]{0,100}$`)

// EmbeddedMQTT and EmbeddedKafka report which brokers run in-process.
func (c *Config) EmbeddedMQTT() bool  { return c.Ingest.URL == "" }
func (c *Config) EmbeddedKafka() bool { return len(c.Kafka.Brokers) == 0 }

// Validate checks everything; each error names its key.
func (c *Config) Validate() error {
	var errs []error
	if c.StationsFile == "" {
		errs = append(errs, errors.New("stations_file: required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required"))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		errs = append(errs, fmt.Errorf("http.listen: %v", err))
	}
	if c.Kafka.Partitions < 1 || c.Kafka.Partitions > 1000 {
		errs = append(errs, errors.New("kafka.partitions: must be between 1 and 1000"))
	}
	if !topicPrefixRe.MatchString(c.Kafka.TopicPrefix) {
		errs = append(errs, fmt.Errorf("kafka.topic_prefix: %q must match [A-Za-z0-9._-]{0,100}", c.Kafka.TopicPrefix))
	}
	if c.Kafka.ReplicationFactor < 1 {
		errs = append(errs, errors.New("kafka.replication_factor: must be at least 1"))
	}
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka.brokers[%d]: %q: %v", i, b, err))
		}
	}
	if c.EmbeddedMQTT() && !c.Dev && c.MQTT.Embedded.CredentialsFile == "" {
		errs = append(errs, errors.New("mqtt.embedded.credentials_file: required for the embedded broker unless run --dev"))
	}
	ing := c.Ingest
	if ing.URL == "" {
		ing.URL = "tcp://" + c.MQTT.Embedded.Listen
	}
	if err := ing.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Processor.Validate(); err != nil {
		errs = append(errs, err)
	}
	infl := c.Influx
	if infl.SpoolDir == "" {
		infl.SpoolDir = filepath.Join(c.DataDir, "spool", "influx")
	}
	if err := infl.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
