package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/basin"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/lognotify"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/ingest"
	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/retry"
	"github.com/resilience-project/resilience/processor"
	"github.com/resilience-project/resilience/processor/filesink"
	"github.com/resilience-project/resilience/processor/influxsink"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// Mode selects which parts run.
type Mode string

// Modes.
const (
	ModeRun     Mode = "run"
	ModeIngest  Mode = "ingest"
	ModeProcess Mode = "process"
	ModeAlerts  Mode = "alerts"
)

func (m Mode) ingest() bool  { return m == ModeRun || m == ModeIngest }
func (m Mode) process() bool { return m == ModeRun || m == ModeProcess }
func (m Mode) alerts() bool  { return m == ModeRun || m == ModeAlerts }

// Stack exposes the running parts to tests (nil fields: not running).
type Stack struct {
	Registry *prometheus.Registry
	View     *processor.View
	Alerts   *store.Store
	Brokers  []string
	MQTTURL  string
	Ready    chan struct{}
}

// RunStack wires and runs the parts of mode until ctx is done. Embedded
// brokers (run mode only) outlive the parts that use them: they stop last.
// If st is not nil it is filled in as parts start.
func RunStack(ctx context.Context, mode Mode, cfg Config, logger *slog.Logger, st *Stack) error {
	if st == nil {
		st = &Stack{}
	}
	st.Ready = make(chan struct{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st.Registry = reg
	stations, err := schemas.LoadRegistry(cfg.StationsFile)
	if err != nil {
		return err
	}

	// The parts run under lc.partsCtx; the embedded brokers under their own
	// context. On any return (an error while wiring, too) the parts are
	// stopped and waited for, then the sinks and the writer are closed, then
	// the brokers stopped (see lifecycle).
	lc := newLifecycle(ctx, logger)
	defer lc.shutdown(true)
	g, gctx, brokerRun := lc.parts, lc.partsCtx, lc.runBroker
	if cfg.EmbeddedKafka() {
		if mode != ModeRun {
			return fmt.Errorf("kafka.brokers: required for `%s` (only `run` starts the embedded log)", mode)
		}
		kl, err := embedded.NewKafka(withDir(cfg.Kafka.Embedded, filepath.Join(cfg.DataDir, "kafka")), logger)
		if err != nil {
			return err
		}
		brokerRun(kl.Run)
		cfg.Kafka.Brokers = kl.Brokers()
	}
	if mode.ingest() && cfg.EmbeddedMQTT() {
		if mode != ModeRun {
			return errors.New("ingest.mqtt_url: required for `ingest` (only `run` starts the embedded broker)")
		}
		mc := cfg.MQTT.Embedded
		mc.DataDir = filepath.Join(cfg.DataDir, "mqtt")
		mc.Dev = cfg.Dev
		if !cfg.Dev {
			// The in-process collector authenticates like any other client,
			// with a credential made for this run.
			var pw [24]byte
			if _, err := rand.Read(pw[:]); err != nil {
				return err
			}
			mc.InternalUser, mc.InternalPassword = "resilience-run-collector", hex.EncodeToString(pw[:])
			cfg.Ingest.Username, cfg.Ingest.Password, cfg.Ingest.PasswordFile = mc.InternalUser, mc.InternalPassword, ""
		}
		mb, err := embedded.NewMQTT(mc, logger)
		if err != nil {
			return err
		}
		brokerRun(mb.Run)
		cfg.Ingest.URL = mb.URL()
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "resilience_embedded_mqtt_dropped_total",
			Help: "QoS>0 messages the embedded MQTT broker dropped (client inflight quota)."}, func() float64 { return float64(mb.Dropped()) }))
	}
	st.Brokers, st.MQTTURL = cfg.Kafka.Brokers, cfg.Ingest.URL

	topics := schemas.Topics(cfg.Kafka.TopicPrefix)
	parts, err := ensureTopics(gctx, cfg, topics, logger)
	if err != nil {
		return err
	}
	writer := kafkax.NewWriter(kafkax.WriterOptions{Brokers: cfg.Kafka.Brokers, BatchSize: max(cfg.Ingest.BatchSize, cfg.Processor.BatchSize) * 2})
	lc.closeAfterParts(func() { writer.Close() })

	checks := map[string]httpapi.Check{}
	degradations := map[string]httpapi.Degradation{}
	var view *processor.View
	var astore *store.Store

	if mode.ingest() {
		col, err := ingest.New(cfg.Ingest, ingest.Deps{Registry: stations, Writer: writer, Topics: topics}, logger, reg)
		if err != nil {
			return err
		}
		g.Go(func() error { return col.Run(gctx) })
		checks["ingest"] = col.Ready // nil once connected and subscribed, else why not
	}
	// The rules file, read once: the processor evaluates the station rules
	// (and hot-reloads them), the alerts service the basin rules.
	set := rules.DefaultRuleSet()
	if cfg.RulesFile != "" && (mode.process() || mode.alerts()) {
		if set, err = rules.LoadRuleSet(cfg.RulesFile); err != nil {
			return err
		}
	}
	if mode.process() {
		engine, err := rules.NewEngine(set, stations)
		if err != nil {
			return err
		}
		if cfg.RulesFile != "" {
			reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_rules_reloads_total",
				Help: "Rules file reload attempts, by result (ok, error: the old rules stay in force)."}, []string{"result"})
			reg.MustRegister(reloads)
			w := &rules.Watcher{Path: cfg.RulesFile, Engine: engine, Logger: logger.With("component", "rules"),
				OnReload: func(err error) {
					if err != nil {
						reloads.WithLabelValues("error").Inc()
					} else {
						reloads.WithLabelValues("ok").Inc()
					}
				}}
			w.Prime()
			g.Go(func() error { return w.Run(gctx) })
		}
		var points processor.PointSink
		var spool *influxsink.Sink
		if cfg.Influx.URL != "" {
			ic := cfg.Influx
			if ic.SpoolDir == "" {
				ic.SpoolDir = filepath.Join(cfg.DataDir, "spool", "influx")
			}
			sink, err := influxsink.New(ic, logger, reg)
			if err != nil {
				return err
			}
			lc.closeAfterParts(sink.Close)
			g.Go(func() error { return sink.Run(gctx) })
			points, spool = sink, sink
		} else {
			fsink, err := filesink.New(filepath.Join(cfg.DataDir, "points"))
			if err != nil {
				return err
			}
			lc.closeAfterParts(func() { fsink.Close() })
			logger.Info("no InfluxDB configured: points go to line-protocol files", "dir", fsink.Dir())
			points = fsink
		}
		view = processor.NewView(stations, 1000)
		proc, err := processor.New(cfg.Processor, processor.Deps{Brokers: cfg.Kafka.Brokers, Registry: stations,
			Engine: engine, Points: points, Writer: writer, View: view, Topics: topics}, logger, reg)
		if err != nil {
			return err
		}
		g.Go(func() error { return proc.Run(gctx) })
		checks["processor"] = func() error {
			select {
			case <-proc.Ready():
				return nil
			default:
				return errors.New("no partitions assigned yet")
			}
		}
		degradations["points"] = func() string { return pointsDegraded(proc.LandingGap(), spool) }
	}
	if mode.alerts() {
		astore = store.New()
		// Basin-scope composites are evaluated here, where every station's
		// alerts arrive (hot reload covers the station rules only).
		svc, err := alerts.New(alerts.Options{Brokers: cfg.Kafka.Brokers, Store: astore,
			Notifiers: []notify.Notifier{&lognotify.Notifier{Logger: logger.With("component", "notify")}},
			Logger:    logger, Registry: reg, Topics: topics,
			Basin: basin.New(set, stations), Writer: writer})
		if err != nil {
			return err
		}
		g.Go(func() error { return svc.Run(gctx) })
		checks["alerts"] = func() error {
			if !svc.CaughtUp() {
				return errors.New("replaying the alerts topic")
			}
			return nil
		}
	}
	st.View, st.Alerts = view, astore
	ho := httpapi.Options{Listen: cfg.HTTP.Listen, Gatherer: reg, Checks: checks, Degradations: degradations, Logger: logger}
	if view != nil {
		ho.Stations = view
	}
	if astore != nil {
		ho.Alerts = alertsAPI{astore}
	}
	api := httpapi.New(ho)
	g.Go(func() error { return api.Run(gctx) })
	close(st.Ready)
	logger.Info("resilience running", "mode", mode, "kafka", cfg.Kafka.Brokers, "mqtt", cfg.Ingest.URL,
		"influx", cfg.Influx.URL, "http", cfg.HTTP.Listen, "partitions", parts)
	err = lc.shutdown(false)
	if err == nil && ctx.Err() == nil {
		err = errors.New("stopped: a part ended without an error")
	}
	return err
}

// lifecycle stops what RunStack started in the right order, on every
// return (an error while wiring, too): first the running parts (cancelled
// and waited for), then what they write through (sinks, the shared Kafka
// writer: closed after the parts, newest first), then the embedded brokers
// the parts and writer talk to. A broker that fails stops the parts.
type lifecycle struct {
	parts     *errgroup.Group
	partsCtx  context.Context
	stopParts context.CancelFunc
	brokers   errgroup.Group
	bctx      context.Context
	bcancel   context.CancelFunc
	closers   []func()
	logger    *slog.Logger
	done      bool
	err       error
}

func newLifecycle(ctx context.Context, logger *slog.Logger) *lifecycle {
	runCtx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(runCtx)
	bctx, bcancel := context.WithCancel(context.WithoutCancel(ctx))
	return &lifecycle{parts: g, partsCtx: gctx, stopParts: stop, bctx: bctx, bcancel: bcancel, logger: logger}
}

// runBroker runs an embedded broker until shutdown stops it.
func (l *lifecycle) runBroker(run func(context.Context) error) {
	l.brokers.Go(func() error {
		err := run(l.bctx)
		if err != nil {
			l.logger.Error("embedded broker failed; stopping", "err", err)
			l.stopParts()
		}
		return err
	})
}

// closeAfterParts registers fn to run once the parts have stopped.
func (l *lifecycle) closeAfterParts(fn func()) { l.closers = append(l.closers, fn) }

// shutdown waits for the parts to end (cancelling them first when cancel
// is set; otherwise they end with the caller's ctx or the first part's
// error), closes what was registered, stops the brokers, and returns the
// first part's error, else the first broker's. Calls after the first
// return the same.
func (l *lifecycle) shutdown(cancel bool) error {
	if l.done {
		return l.err
	}
	l.done = true
	if cancel {
		l.stopParts()
	}
	err := l.parts.Wait()
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
	l.bcancel()
	if berr := l.brokers.Wait(); err == nil {
		err = berr
	}
	l.err = err
	return err
}

func withDir(k embedded.KafkaConfig, dir string) embedded.KafkaConfig {
	k.DataDir = dir
	return k
}

// pointsDegraded is the /readyz degradation of the point sink: records
// whose points are not stored yet (the processor's landing gap), or an
// InfluxDB spool that refuses batches; "" when neither.
func pointsDegraded(gap int64, spool *influxsink.Sink) string {
	full := spool != nil && spool.Full()
	switch {
	case gap > 0 && full:
		return fmt.Sprintf("point spool full, %d readings not yet stored in InfluxDB", gap)
	case gap > 0 && spool != nil:
		return fmt.Sprintf("%d readings not yet stored in InfluxDB", gap)
	case gap > 0:
		return fmt.Sprintf("point sink failing, %d readings not yet stored", gap)
	case full:
		return "point spool full"
	}
	return ""
}

// ensureTopics creates the project's topics (idempotent).
func ensureTopics(ctx context.Context, cfg Config, t schemas.KafkaTopics, logger *slog.Logger) (int, error) {
	p, rf := cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor
	week := fmt.Sprint((7 * 24 * time.Hour).Milliseconds())
	specs := []kafkax.TopicSpec{
		{Name: t.Readings, Partitions: p, ReplicationFactor: rf, Configs: map[string]string{"retention.ms": week}},
		{Name: t.DLQ, Partitions: p, ReplicationFactor: rf, Configs: map[string]string{"retention.ms": week}},
		// The alerts store replays this topic: keep it.
		{Name: t.Alerts, Partitions: p, ReplicationFactor: rf, Configs: map[string]string{"retention.ms": "-1"}},
		{Name: t.State, Partitions: p, ReplicationFactor: rf, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
	var counts map[string]int
	err := retry.Do(ctx, retry.Policy{Min: 200 * time.Millisecond, Max: 5 * time.Second, Attempts: 30,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			logger.Warn("kafka not ready; retrying topic setup", "brokers", cfg.Kafka.Brokers, "attempt", attempt, "retry_in", wait, "err", err)
		}}, func(int) error {
		var err error
		counts, err = kafkax.EnsureTopics(ctx, cfg.Kafka.Brokers, nil, specs...)
		return err
	})
	if err != nil {
		return 0, err
	}
	if counts[t.Readings] != counts[t.State] {
		return 0, fmt.Errorf("%w: %v", processor.ErrPartitionMismatch, counts)
	}
	return counts[t.Readings], nil
}
