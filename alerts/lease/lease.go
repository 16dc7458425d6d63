package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/retry"
)

// ErrConfig is returned by New for a configuration without brokers, topic
// or group.
var ErrConfig = errors.New("lease: Brokers, Topic and Group are required")

// Config configures a Lease.
type Config struct {
	Brokers []string
	Dialer  *kafka.Dialer
	// Topic is the topic whose partition 0 is the lease (it must exist).
	Topic string
	// Group is the consumer group the replicas join (the same on every
	// replica).
	Group string
	// SessionTimeout bounds how long a replica that died without leaving
	// keeps the lease (default 10s); HeartbeatInterval is how often a
	// member learns of a rebalance (default 1s); RebalanceTimeout is how
	// long the group waits for members to rejoin (default 10s).
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	Logger                                              *slog.Logger
	// Registry, if set, gets the resilience_alerts_dispatch_leader gauge.
	Registry prometheus.Registerer
}

// Lease is one replica's membership in the election.
type Lease struct {
	cfg    Config
	log    *slog.Logger
	held   atomic.Bool
	leader prometheus.Gauge
}

// New validates cfg and returns a Lease; Run takes part in the election.
func New(cfg Config) (*Lease, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Group == "" {
		return nil, ErrConfig
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.RebalanceTimeout <= 0 {
		cfg.RebalanceTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lease{cfg: cfg, log: cfg.Logger.With("component", "dispatch-lease", "group", cfg.Group, "topic", cfg.Topic),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "resilience_alerts_dispatch_leader",
			Help: "1 while this replica holds the dispatch lease (decides and sends notifications), else 0."})}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(l.leader); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
	}
	return l, nil
}

// Held reports whether this replica holds the lease now.
func (l *Lease) Held() bool { return l.held.Load() }

// Run joins the group and calls term for every generation in which this
// replica is assigned partition 0 of the topic, with a context that ends
// with the generation (lease lost, another member joined or left, or ctx
// done); term must return promptly then. Group errors (Kafka unavailable)
// are retried with backoff; Run returns nil when ctx ends, after it left
// the group. An error returned by term is logged and ends only that term.
func (l *Lease) Run(ctx context.Context, term func(ctx context.Context) error) error {
	var cg *kafka.ConsumerGroup
	err := retry.Do(ctx, l.policy("joining the dispatch group failed; retrying"), func(int) error {
		var err error
		cg, err = kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: l.cfg.Group, Brokers: l.cfg.Brokers, Dialer: l.cfg.Dialer,
			Topics: []string{l.cfg.Topic}, SessionTimeout: l.cfg.SessionTimeout, HeartbeatInterval: l.cfg.HeartbeatInterval,
			RebalanceTimeout: l.cfg.RebalanceTimeout, JoinGroupBackoff: time.Second, Timeout: 10 * time.Second})
		return err
	})
	if err != nil {
		return nil // only ctx ends the retries: a stop
	}
	defer cg.Close() // leaves the group: the other replica takes over at once
	for {
		var gen *kafka.Generation
		err := retry.Do(ctx, l.policy("dispatch group generation failed; retrying"), func(int) error {
			var err error
			gen, err = cg.Next(ctx)
			return err
		})
		if err != nil {
			return nil // a stop
		}
		if !owns(gen.Assignments[l.cfg.Topic]) {
			l.log.Info("dispatch lease held by another replica", "generation", gen.ID, "member", gen.MemberID)
			continue // Next blocks until this generation ends
		}
		gen.Start(func(gctx context.Context) { l.hold(gctx, gen, term) })
	}
}

func (l *Lease) hold(ctx context.Context, gen *kafka.Generation, term func(ctx context.Context) error) {
	l.held.Store(true)
	l.leader.Set(1)
	l.log.Info("dispatch lease taken: this replica notifies", "generation", gen.ID, "member", gen.MemberID)
	defer func() {
		l.held.Store(false)
		l.leader.Set(0)
		l.log.Info("dispatch lease released", "generation", gen.ID, "member", gen.MemberID)
	}()
	// A term that returns early ends the generation: the group rebalances
	// and the lease goes to whichever member gets partition 0 next.
	if err := term(ctx); err != nil && ctx.Err() == nil {
		l.log.Error("dispatch term ended with an error", "generation", gen.ID, "err", err)
	}
}

func owns(as []kafka.PartitionAssignment) bool {
	return slices.ContainsFunc(as, func(a kafka.PartitionAssignment) bool { return a.ID == 0 })
}

func (l *Lease) policy(msg string) retry.Policy {
	return retry.Policy{Min: 200 * time.Millisecond, Max: 5 * time.Second, OnRetry: func(attempt int, err error, wait time.Duration) {
		l.log.Warn(msg, "attempt", attempt, "retry_in", wait, "err", err)
	}}
}
