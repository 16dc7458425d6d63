package ingest

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Config configures a collector. The YAML keys are under `ingest:`.
type Config struct {
	// URL of the MQTT broker, e.g. tcp://127.0.0.1:1883 or ssl://host:8883.
	// Empty in embedded mode, where the embedded broker's address is used.
	URL string `yaml:"mqtt_url"`
	// ClientID must be stable per collector instance: the broker keys the
	// persistent session on it.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	// PasswordFile holds the MQTT password (or set RESILIENCE_MQTT_PASSWORD).
	// Secrets never come from flags.
	PasswordFile string `yaml:"password_file"`
	// Password is set by code only (the embedded broker's generated
	// credential); never from YAML or flags.
	Password string `yaml:"-"`
	TLS      bool   `yaml:"tls"`
	// ShareGroup names the shared subscription; empty subscribes directly.
	ShareGroup string `yaml:"share_group"`
	// MaxUndelivered is the most messages held unacknowledged (backpressure).
	MaxUndelivered int `yaml:"max_undelivered"`
	// BatchSize is the most records per Kafka write.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a partial batch waits for more messages.
	// Default 0: a batch is what queued while the previous write was in
	// flight (up to BatchSize), so an idle collector forwards a reading at
	// once and a busy one in full batches.
	BatchWait time.Duration `yaml:"batch_wait"`
	KeepAlive time.Duration `yaml:"keepalive"`
	// MaxPayload and MaxFuture bound accepted payloads (see schemas.DecodeOptions).
	MaxPayload int           `yaml:"max_payload"`
	MaxFuture  time.Duration `yaml:"max_future"`
	// StationRate is each station's share in messages per second (a token
	// bucket refilled at this rate, holding StationBurst); a station's
	// messages beyond it are written after the other stations' (fair
	// queuing), so one flooding device cannot delay the others. 0: no rate
	// limit.
	StationRate  float64 `yaml:"station_rate"`
	StationBurst int     `yaml:"station_burst"`
	// StationMaxUndelivered is the most messages one station may hold
	// unacknowledged (its share of MaxUndelivered); beyond it they are not
	// decoded but dead-lettered as rate_limited. 0: a quarter of
	// MaxUndelivered.
	StationMaxUndelivered int `yaml:"station_max_undelivered"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "local"
	}
	return Config{
		ClientID:       "resilience-collector-" + sanitize(host),
		ShareGroup:     "resilience",
		MaxUndelivered: 2000,
		BatchSize:      500,
		BatchWait:      0,
		KeepAlive:      30 * time.Second,
		MaxPayload:     64 << 10,
		MaxFuture:      5 * time.Minute,
		// Real devices report every few minutes, and a device back from an
		// outage sends one array message; 20/s with a burst of 200 is far
		// above either.
		StationRate:  20,
		StationBurst: 200,
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// RegisterFlags registers the collector flags with prefix "ingest.".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "ingest.mqtt-url", c.URL, "MQTT broker URL (empty: the embedded broker)")
	fs.StringVar(&c.ClientID, "ingest.client-id", c.ClientID, "stable MQTT client id of this collector")
	fs.StringVar(&c.Username, "ingest.username", c.Username, "MQTT username")
	fs.StringVar(&c.PasswordFile, "ingest.password-file", c.PasswordFile, "file holding the MQTT password")
	fs.StringVar(&c.ShareGroup, "ingest.share-group", c.ShareGroup, "shared subscription group (empty: no sharing)")
	fs.IntVar(&c.MaxUndelivered, "ingest.max-undelivered", c.MaxUndelivered, "most unacknowledged MQTT messages held")
	fs.IntVar(&c.BatchSize, "ingest.batch-size", c.BatchSize, "most records per Kafka write")
	fs.DurationVar(&c.BatchWait, "ingest.batch-wait", c.BatchWait, "how long a partial batch waits")
	fs.Float64Var(&c.StationRate, "ingest.station-rate", c.StationRate, "messages per second each station may send before its messages queue behind the others (0: unlimited)")
	fs.IntVar(&c.StationBurst, "ingest.station-burst", c.StationBurst, "messages a station may send at once above its rate")
	fs.IntVar(&c.StationMaxUndelivered, "ingest.station-max-undelivered", c.StationMaxUndelivered, "most unacknowledged messages of one station (0: a quarter of max-undelivered)")
}

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" || !(u.Scheme == "tcp" || u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtt" || u.Scheme == "mqtts" || u.Scheme == "ws" || u.Scheme == "wss") {
			errs = append(errs, fmt.Errorf("ingest.mqtt_url: %q is not a broker URL such as tcp://127.0.0.1:1883", c.URL))
		}
	}
	if c.ClientID == "" || len(c.ClientID) > 128 {
		errs = append(errs, errors.New("ingest.client_id: must be set (at most 128 characters) and stable per collector"))
	}
	if c.MaxUndelivered < 1 {
		errs = append(errs, errors.New("ingest.max_undelivered: must be at least 1"))
	}
	if c.BatchSize < 1 || c.BatchSize > c.MaxUndelivered {
		errs = append(errs, fmt.Errorf("ingest.batch_size: must be between 1 and max_undelivered (%d)", c.MaxUndelivered))
	}
	if c.BatchWait < 0 || c.BatchWait > time.Second {
		errs = append(errs, errors.New("ingest.batch_wait: must be between 0 and 1s"))
	}
	if c.KeepAlive < time.Second {
		errs = append(errs, errors.New("ingest.keepalive: must be at least 1s"))
	}
	if c.MaxPayload < 256 {
		errs = append(errs, errors.New("ingest.max_payload: must be at least 256 bytes"))
	}
	if c.MaxFuture < 0 {
		errs = append(errs, errors.New("ingest.max_future: must not be negative"))
	}
	if math.IsNaN(c.StationRate) || math.IsInf(c.StationRate, 0) || c.StationRate < 0 {
		errs = append(errs, errors.New("ingest.station_rate: must be a number of messages per second, at least 0 (0: unlimited)"))
	}
	if c.StationBurst < 1 {
		errs = append(errs, errors.New("ingest.station_burst: must be at least 1"))
	}
	if c.StationMaxUndelivered < 0 || (c.MaxUndelivered >= 1 && c.StationMaxUndelivered > c.MaxUndelivered) {
		errs = append(errs, fmt.Errorf("ingest.station_max_undelivered: must be between 0 (a quarter of max_undelivered) and max_undelivered (%d)", c.MaxUndelivered))
	}
	if c.Username != "" && c.Password == "" && c.PasswordFile == "" && os.Getenv("RESILIENCE_MQTT_PASSWORD") == "" {
		errs = append(errs, errors.New("ingest.password_file: required with ingest.username (or set RESILIENCE_MQTT_PASSWORD)"))
	}
	return errors.Join(errs...)
}

func (c *Config) password() (string, error) {
	if c.Password != "" {
		return c.Password, nil
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("ingest.password_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv("RESILIENCE_MQTT_PASSWORD"), nil
}

// stationMaxUndelivered is StationMaxUndelivered with 0 resolved.
func (c *Config) stationMaxUndelivered() int {
	if c.StationMaxUndelivered > 0 {
		return c.StationMaxUndelivered
	}
	return max(1, c.MaxUndelivered/4)
}

// Filters returns the subscription filters.
func (c *Config) Filters() []string {
	base := []string{
		fmt.Sprintf(schemas.TopicReadingsFmt, "+"),
		fmt.Sprintf(schemas.TopicSenMLFmt, "+"),
	}
	if c.ShareGroup == "" {
		return base
	}
	out := make([]string, len(base))
	for i, f := range base {
		out[i] = "$share/" + c.ShareGroup + "/" + f
	}
	return out
}

// DecodeOptions derives the decoder bounds.
func (c *Config) DecodeOptions() schemas.DecodeOptions {
	o := schemas.DefaultDecodeOptions()
	o.MaxPayload = c.MaxPayload
	o.MaxFuture = c.MaxFuture
	return o
}
