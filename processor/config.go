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
	// BatchSize is the most records per pipeline batch: one point write
	// (InfluxDB writes its WAL once per request, so a backlog drains
	// faster in large writes: 5,000 drained 200,000 readings at 56k
	// points/s and 0.13 CPU-s/10k where 1,000 did 38k and 0.19 on the
	// same servers, cmd/bench).
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a partial batch waits for more records. It
	// delays points only (alerts go as each record is evaluated); each
	// batch is one point write, so a longer wait means fewer, larger
	// writes: at 1,000 readings/s over 6 partitions, 100 ms makes about 53
	// InfluxDB writes a second instead of 190 at 20 ms, and InfluxDB's CPU
	// fell from 0.37 to 0.20 cores (cmd/loadtest).
	BatchWait time.Duration `yaml:"batch_wait"`
	// TickInterval is how often time-driven rules (offline) run.
	TickInterval time.Duration `yaml:"tick_interval"`
	// SessionTimeout is the consumer-group session timeout: how fast a dead
	// processor's partitions move to a live one.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// StopTimeout bounds the soft stop.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// SnapshotInterval is the longest time between two snapshots of a
	// partition's changed station states, each followed by the commit it
	// covers (see the package documentation).
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// SnapshotRecords is the most records evaluated between two snapshots.
	SnapshotRecords int `yaml:"snapshot_records"`
	// MaxInFlight is the most batches per partition whose points are
	// handed to the point sink and not yet stored while the next batches
	// are evaluated.
	MaxInFlight int `yaml:"max_in_flight"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Group:          "resilience-processor",
		BatchSize:      5000,
		BatchWait:      100 * time.Millisecond,
		TickInterval:   5 * time.Second,
		SessionTimeout: 10 * time.Second,
		StopTimeout:    10 * time.Second,

		SnapshotInterval: time.Second,
		SnapshotRecords:  50000,
		MaxInFlight:      4,
	}
}

// RegisterFlags registers the processor flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "processor.group", c.Group, "Kafka consumer group of the processors")
	fs.IntVar(&c.BatchSize, "processor.batch-size", c.BatchSize, "most records per batch")
	fs.DurationVar(&c.BatchWait, "processor.batch-wait", c.BatchWait, "how long a partial batch waits for more records (points only: alerts go at once)")
	fs.DurationVar(&c.TickInterval, "processor.tick-interval", c.TickInterval, "how often offline rules run")
	fs.DurationVar(&c.SnapshotInterval, "processor.snapshot-interval", c.SnapshotInterval, "longest time between state snapshots (each followed by a commit)")
	fs.IntVar(&c.SnapshotRecords, "processor.snapshot-records", c.SnapshotRecords, "most records between state snapshots")
	fs.IntVar(&c.MaxInFlight, "processor.max-in-flight", c.MaxInFlight, "most batches per partition whose points are being written")
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
	if c.SnapshotInterval < 10*time.Millisecond || c.SnapshotInterval > time.Minute {
		errs = append(errs, errors.New("processor.snapshot_interval: must be between 10ms and 1m"))
	}
	if c.SnapshotRecords < 1 || c.SnapshotRecords > 1000000 {
		errs = append(errs, errors.New("processor.snapshot_records: must be between 1 and 1000000"))
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 64 {
		errs = append(errs, errors.New("processor.max_in_flight: must be between 1 and 64"))
	}
	return errors.Join(errs...)
}
