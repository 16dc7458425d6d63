package processor

import (
	"errors"
	"flag"
	"time"
)

// Config configures the processor. YAML keys are under `processor:`.
type Config struct {
	// Group is the Kafka consumer group id.
	Group string `yaml:"group"`
	// BatchSize is the most records per pipeline batch.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a partial batch waits for more records.
	BatchWait time.Duration `yaml:"batch_wait"`
	// TickInterval is how often time-driven rules (offline) run.
	TickInterval time.Duration `yaml:"tick_interval"`
	// SessionTimeout is the consumer-group session timeout: how fast a dead
	// processor's partitions move to a live one.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// StopTimeout bounds the soft stop.
	StopTimeout time.Duration `yaml:"stop_timeout"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Group:          "resilience-processor",
		BatchSize:      1000,
		BatchWait:      20 * time.Millisecond,
		TickInterval:   5 * time.Second,
		SessionTimeout: 10 * time.Second,
		StopTimeout:    10 * time.Second,
	}
}

// RegisterFlags registers the processor flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "processor.group", c.Group, "Kafka consumer group of the processors")
	fs.IntVar(&c.BatchSize, "processor.batch-size", c.BatchSize, "most records per batch")
	fs.DurationVar(&c.BatchWait, "processor.batch-wait", c.BatchWait, "how long a partial batch waits")
	fs.DurationVar(&c.TickInterval, "processor.tick-interval", c.TickInterval, "how often offline rules run")
}

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("processor.group: required"))
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, errors.New("processor.batch_size: must be between 1 and 100000"))
	}
	if c.BatchWait < 0 || c.BatchWait > 10*time.Second {
		errs = append(errs, errors.New("processor.batch_wait: must be between 0 and 10s"))
	}
	if c.TickInterval < 100*time.Millisecond {
		errs = append(errs, errors.New("processor.tick_interval: must be at least 100ms"))
	}
	if c.SessionTimeout < 6*time.Second {
		errs = append(errs, errors.New("processor.session_timeout: must be at least 6s (broker minimum)"))
	}
	if c.StopTimeout <= 0 {
		errs = append(errs, errors.New("processor.stop_timeout: must be positive"))
	}
	return errors.Join(errs...)
}
