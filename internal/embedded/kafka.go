package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaConfig configures the embedded Kafka-protocol log.
type KafkaConfig struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"-"`
	// Fsync every produced batch before acknowledging it (default on: a
	// crash must not lose an acknowledged reading).
	NoSync bool `yaml:"no_sync"`
}

// KafkaLog is the embedded log.
type KafkaLog struct {
	cfg    KafkaConfig
	c      *kfake.Cluster
	logger *slog.Logger
}

// NewKafka starts the log (kfake listens as soon as it is created).
func NewKafka(cfg KafkaConfig, logger *slog.Logger) (*KafkaLog, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:9092"
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("kafka.embedded.listen: %w", err)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return nil, fmt.Errorf("kafka.embedded.listen: the embedded log listens on 127.0.0.1 only, not %q", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("kafka.embedded.listen: port: %w", err)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(p), kfake.ClusterID("resilience-embedded")}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, err
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if !cfg.NoSync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka %s: %w", cfg.Listen, err)
	}
	logger.Info("embedded Kafka-protocol log listening", "addrs", c.ListenAddrs(), "data_dir", cfg.DataDir)
	return &KafkaLog{cfg: cfg, c: c, logger: logger}, nil
}

// Brokers are the bootstrap addresses.
func (k *KafkaLog) Brokers() []string { return k.c.ListenAddrs() }

// Run waits for ctx, then closes the log (flushing to DataDir).
func (k *KafkaLog) Run(ctx context.Context) error {
	<-ctx.Done()
	k.c.Close()
	return nil
}
