package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/resilience-project/resilience/ingest"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/config"
	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/internal/memlimit"
	"github.com/resilience-project/resilience/processor"
	"github.com/resilience-project/resilience/processor/influxsink"
)

// The aggregate configuration of the binary lives here, in the application
// layer, composed of the components' own Config types; internal/config
// holds only the generic loading plumbing (so that it imports no
// component).

// KafkaConfig is the `kafka:` section.
type KafkaConfig struct {
	// Brokers of the Kafka cluster; empty starts the embedded log.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix is put before every topic name, so that several
	// deployments (or test runs) can share one cluster.
	TopicPrefix       string               `yaml:"topic_prefix"`
	Partitions        int                  `yaml:"partitions"`
	ReplicationFactor int                  `yaml:"replication_factor"`
	Embedded          embedded.KafkaConfig `yaml:"embedded"`
}

// HTTPConfig is the `http:` section.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
	// TokensFile lists the API's bearer tokens (internal/auth: name, role,
	// token_hash). Empty: no token is accepted (only loopback health
	// answers), except under run --dev, which creates an admin token in
	// data_dir/api.
	TokensFile string `yaml:"tokens_file"`
	// AuditFile is the audit log of API writes (empty:
	// data_dir/audit/audit.jsonl).
	AuditFile string `yaml:"audit_file"`
	// Rate and Burst are each token's request rate (per second) and bucket
	// (0: 10 and 20).
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// MQTTConfig is the `mqtt:` section (the embedded broker).
type MQTTConfig struct {
	Embedded embedded.MQTTConfig `yaml:"embedded"`
}

// AlertsConfig is the `alerts:` section: notification delivery and the
// alert lifecycle.
type AlertsConfig struct {
	// RoutesFile is the routing file (alerts/route); empty: alerts are only
	// logged, nobody is notified.
	RoutesFile string `yaml:"routes_file"`
	// ConsoleURL is the operator console's base URL for links in messages.
	ConsoleURL string     `yaml:"console_url"`
	SMTP       SMTPConfig `yaml:"smtp"`
	// MQTTURL is the broker of the sirens (empty: the ingest broker, or the
	// embedded one).
	MQTTURL string      `yaml:"mqtt_url"`
	NFLog   NFLogConfig `yaml:"nflog"`
	// NotifyMaxAge: replayed events older than this are not notified after
	// a restart (a fresh install does not page for last month).
	NotifyMaxAge time.Duration `yaml:"notify_max_age"`
	// ResolvedRetention is how long a resolved alert stays in memory (it
	// stays in InfluxDB and in the topics).
	ResolvedRetention time.Duration `yaml:"resolved_retention"`
}

// SMTPConfig is the `alerts.smtp:` section, shared by every email receiver.
type SMTPConfig struct {
	Addr       string `yaml:"addr"`
	From       string `yaml:"from"`
	AuthFile   string `yaml:"auth_file"`
	RequireTLS bool   `yaml:"require_tls"`
}

// NFLogConfig is the `alerts.nflog:` section: the notification log.
type NFLogConfig struct {
	// Kind is file (data_dir/alerts/nflog, one replica) or kafka (the
	// compacted topic <prefix>alerts.nflog).
	Kind      string        `yaml:"kind"`
	Retention time.Duration `yaml:"retention"`
}

// Config is the whole configuration: a YAML file, then environment
// overrides (RESILIENCE_*), then flags. Secrets (MQTT password, InfluxDB
// token) come only from files or the environment, never from flags.
// Validate reports every problem at once, each naming its key. Relative
// paths in the file are relative to the file.
//
// Embedded mode is chosen per broker: an empty ingest.mqtt_url starts the
// embedded MQTT broker, an empty kafka.brokers the embedded Kafka-protocol
// log; an empty influx.url keeps points in local files.
type Config struct {
	StationsFile string            `yaml:"stations_file"`
	RulesFile    string            `yaml:"rules_file"`
	DataDir      string            `yaml:"data_dir"`
	HTTP         HTTPConfig        `yaml:"http"`
	MQTT         MQTTConfig        `yaml:"mqtt"`
	Kafka        KafkaConfig       `yaml:"kafka"`
	Ingest       ingest.Config     `yaml:"ingest"`
	Processor    processor.Config  `yaml:"processor"`
	Influx       influxsink.Config `yaml:"influx"`
	Alerts       AlertsConfig      `yaml:"alerts"`
	Publish      PublishConfig     `yaml:"publish"`
	// MemoryLimit is the process's soft memory limit (internal/memlimit):
	// auto (default: GOMEMLIMIT, else 90% of the cgroup's limit, else
	// none), off, or a size such as 512MiB.
	MemoryLimit string `yaml:"memory_limit"`
	// Dev is set by `run --dev`: anonymous MQTT devices in embedded mode.
	Dev bool `yaml:"-"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		StationsFile: "stations.yaml",
		DataDir:      "data",
		HTTP:         HTTPConfig{Listen: "127.0.0.1:8080"},
		MQTT:         MQTTConfig{Embedded: embedded.MQTTConfig{Listen: "127.0.0.1:1883"}},
		Kafka:        KafkaConfig{Partitions: 6, ReplicationFactor: 1, Embedded: embedded.KafkaConfig{Listen: "127.0.0.1:9092"}},
		Ingest:       ingest.DefaultConfig(),
		Processor:    processor.DefaultConfig(),
		Influx:       influxsink.DefaultConfig(),
		Alerts: AlertsConfig{NFLog: NFLogConfig{Kind: "file", Retention: 7 * 24 * time.Hour},
			NotifyMaxAge: 24 * time.Hour, ResolvedRetention: 24 * time.Hour},
		Publish:     defaultPublishConfig(),
		MemoryLimit: memlimit.Auto,
	}
}

// ParseConfig decodes a YAML document over the defaults. Unknown keys are
// errors. base resolves relative paths.
func ParseConfig(data []byte, base string) (Config, error) {
	c := DefaultConfig()
	if err := config.Decode(data, &c); err != nil {
		return c, err
	}
	c.resolve(base)
	return c, nil
}

// LoadConfig reads a config file (empty path: defaults), then applies the
// environment.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	if path != "" {
		err := config.ReadFile(path, func(data []byte, base string) error {
			var err error
			c, err = ParseConfig(data, base)
			return err
		})
		if err != nil {
			return c, err
		}
	}
	c.ApplyEnv(os.Getenv)
	return c, nil
}

func (c *Config) resolve(base string) {
	config.ResolvePaths(base, &c.StationsFile, &c.RulesFile, &c.DataDir, &c.MQTT.Embedded.CredentialsFile,
		&c.Ingest.PasswordFile, &c.Influx.TokenFile, &c.Influx.SpoolDir, &c.Alerts.RoutesFile, &c.Alerts.SMTP.AuthFile,
		&c.HTTP.TokensFile, &c.HTTP.AuditFile)
}

// ApplyEnv applies RESILIENCE_* overrides.
func (c *Config) ApplyEnv(get func(string) string) {
	env := config.Env(get)
	env.String("RESILIENCE_STATIONS_FILE", &c.StationsFile)
	env.String("RESILIENCE_RULES_FILE", &c.RulesFile)
	env.String("RESILIENCE_DATA_DIR", &c.DataDir)
	env.String("RESILIENCE_MEMORY_LIMIT", &c.MemoryLimit)
	env.String("RESILIENCE_HTTP_LISTEN", &c.HTTP.Listen)
	env.String("RESILIENCE_HTTP_TOKENS_FILE", &c.HTTP.TokensFile)
	env.String("RESILIENCE_MQTT_URL", &c.Ingest.URL)
	env.String("RESILIENCE_MQTT_USERNAME", &c.Ingest.Username)
	env.String("RESILIENCE_MQTT_PASSWORD_FILE", &c.Ingest.PasswordFile)
	env.String("RESILIENCE_MQTT_CLIENT_ID", &c.Ingest.ClientID)
	env.String("RESILIENCE_INFLUX_URL", &c.Influx.URL)
	env.String("RESILIENCE_INFLUX_ORG", &c.Influx.Org)
	env.String("RESILIENCE_INFLUX_BUCKET", &c.Influx.Bucket)
	env.String("RESILIENCE_INFLUX_TOKEN_FILE", &c.Influx.TokenFile)
	env.String("RESILIENCE_PROCESSOR_GROUP", &c.Processor.Group)
	env.String("RESILIENCE_KAFKA_TOPIC_PREFIX", &c.Kafka.TopicPrefix)
	env.String("RESILIENCE_EMBEDDED_MQTT_LISTEN", &c.MQTT.Embedded.Listen)
	env.String("RESILIENCE_MQTT_CREDENTIALS_FILE", &c.MQTT.Embedded.CredentialsFile)
	env.String("RESILIENCE_EMBEDDED_KAFKA_LISTEN", &c.Kafka.Embedded.Listen)
	env.List("RESILIENCE_KAFKA_BROKERS", &c.Kafka.Brokers)
	env.String("RESILIENCE_ALERTS_ROUTES_FILE", &c.Alerts.RoutesFile)
	env.String("RESILIENCE_ALERTS_CONSOLE_URL", &c.Alerts.ConsoleURL)
	env.String("RESILIENCE_ALERTS_SMTP_ADDR", &c.Alerts.SMTP.Addr)
	env.String("RESILIENCE_ALERTS_SMTP_FROM", &c.Alerts.SMTP.From)
	env.String("RESILIENCE_ALERTS_SMTP_AUTH_FILE", &c.Alerts.SMTP.AuthFile)
	env.String("RESILIENCE_ALERTS_MQTT_URL", &c.Alerts.MQTTURL)
	env.String("RESILIENCE_ALERTS_NFLOG_KIND", &c.Alerts.NFLog.Kind)
	env.String("RESILIENCE_PUBLISH_LOG_KIND", &c.Publish.Log.Kind)
	env.String("RESILIENCE_PUBLISH_BASE_URL", &c.Publish.BaseURL)
}

// RegisterFlags registers the flags of every component.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.StationsFile, "stations-file", c.StationsFile, "station registry YAML")
	fs.StringVar(&c.RulesFile, "rules-file", c.RulesFile, "rules YAML (empty: built-in defaults)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for embedded brokers, spool and local points")
	fs.StringVar(&c.HTTP.Listen, "http.listen", c.HTTP.Listen, "HTTP API address")
	fs.StringVar(&c.MemoryLimit, "memory-limit", c.MemoryLimit, "soft memory limit: auto (GOMEMLIMIT, else 90% of the cgroup's), off, or a size such as 512MiB")
	fs.Func("kafka.brokers", "comma-separated Kafka bootstrap brokers (empty: embedded log)", func(v string) error {
		c.Kafka.Brokers = config.SplitList(v)
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
	errs := c.validateOwn()
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

// validateOwn checks the keys of the binary's own sections (not the
// components').
func (c *Config) validateOwn() []error {
	var errs []error
	if c.StationsFile == "" {
		errs = append(errs, errors.New("stations_file: required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required"))
	}
	if err := memlimit.Validate(c.MemoryLimit); err != nil {
		errs = append(errs, fmt.Errorf("memory_limit: %w", err))
	}
	if c.HTTP.Rate < 0 || c.HTTP.Burst < 0 {
		errs = append(errs, fmt.Errorf("http.rate %v, http.burst %d: want positive numbers (0: the defaults)", c.HTTP.Rate, c.HTTP.Burst))
	}
	if c.HTTP.TokensFile != "" {
		if _, err := auth.Load(c.HTTP.TokensFile); err != nil {
			errs = append(errs, fmt.Errorf("http.tokens_file: %w", err))
		}
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
	errs = append(errs, c.Alerts.validate()...)
	errs = append(errs, c.Publish.validate()...)
	if c.EmbeddedMQTT() && !c.Dev && c.MQTT.Embedded.CredentialsFile == "" {
		errs = append(errs, errors.New("mqtt.embedded.credentials_file: required for the embedded broker unless run --dev"))
	}
	if c.EmbeddedMQTT() {
		if err := c.MQTT.Embedded.ValidateFor(c.Ingest.MaxPayload); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validate checks the alerts section; each error names its key.
func (a *AlertsConfig) validate() []error {
	var errs []error
	if a.NFLog.Kind != "file" && a.NFLog.Kind != "kafka" {
		errs = append(errs, fmt.Errorf("alerts.nflog.kind: %q is not one of file, kafka", a.NFLog.Kind))
	}
	if a.NFLog.Retention < time.Hour {
		errs = append(errs, errors.New("alerts.nflog.retention: at least 1h"))
	}
	if a.NotifyMaxAge <= 0 || a.NotifyMaxAge >= a.NFLog.Retention {
		errs = append(errs, errors.New("alerts.notify_max_age: must be positive and under alerts.nflog.retention "+
			"(an event replayed after its log entry was compacted away would be notified again)"))
	}
	if a.ResolvedRetention < time.Minute {
		errs = append(errs, errors.New("alerts.resolved_retention: at least 1m"))
	}
	if a.ConsoleURL != "" {
		if u, err := url.Parse(a.ConsoleURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("alerts.console_url: %q is not an http(s) URL", a.ConsoleURL))
		}
	}
	if a.SMTP.Addr != "" {
		if _, _, err := net.SplitHostPort(a.SMTP.Addr); err != nil {
			errs = append(errs, fmt.Errorf("alerts.smtp.addr: %q: %v", a.SMTP.Addr, err))
		}
		if a.SMTP.From == "" {
			errs = append(errs, errors.New("alerts.smtp.from: required with alerts.smtp.addr"))
		}
	}
	if a.MQTTURL != "" {
		if u, err := url.Parse(a.MQTTURL); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("alerts.mqtt_url: %q is not a broker URL (tcp://host:port)", a.MQTTURL))
		}
	}
	return errs
}
