package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/basin"
	"github.com/resilience-project/resilience/alerts/dispatch"
	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/alerts/lease"
	"github.com/resilience-project/resilience/alerts/nflog"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/lognotify"
	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/publish"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
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
	// Sirens are the siren channels (their device acks: AcksOf).
	Sirens []*mqttsiren.Channel
	// Publisher is the CAP publisher (nil: publish.sender empty).
	Publisher *publish.Publisher
	Ready     chan struct{}
}

// wiring is what the wire* functions share while RunStack builds the
// parts: each registers its parts with the lifecycle in its stage, its
// readiness checks and its closers.
type wiring struct {
	mode     Mode
	cfg      Config
	logger   *slog.Logger
	reg      *prometheus.Registry
	stations *schemas.Registry
	topics   schemas.KafkaTopics
	lc       *lifecycle
	rules    *rules.RuleSet
	routes   *route.Watcher
	// instance names this process in MQTT client ids (replicas differ).
	instance     string
	checks       map[string]httpapi.Check
	degradations map[string]httpapi.Degradation
	st           *Stack
	// capAPI serves the CAP feed and publisher endpoints (nil: none).
	capAPI *httpapi.CAP
}

// RunStack wires and runs the parts of mode until ctx is done or a part
// fails, then stops them in order (see lifecycle): the collector drains
// first, then the processor, the alerts service, the HTTP API, the sinks;
// then the writers and sinks close; the embedded brokers (run mode only)
// stop last. If st is not nil it is filled in as parts start.
func RunStack(ctx context.Context, mode Mode, cfg Config, logger *slog.Logger, st *Stack) error {
	if st == nil {
		st = &Stack{}
	}
	st.Ready = make(chan struct{})
	var inst [4]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return err
	}
	w := &wiring{mode: mode, cfg: cfg, logger: logger, reg: newRegistry(), st: st, instance: hex.EncodeToString(inst[:]),
		checks: map[string]httpapi.Check{}, degradations: map[string]httpapi.Degradation{}}
	st.Registry = w.reg
	var err error
	if w.stations, err = schemas.LoadRegistry(cfg.StationsFile); err != nil {
		return err
	}
	w.lc = newLifecycle(ctx, logger)
	if err := w.wire(); err != nil {
		w.lc.shutdown()
		return err
	}
	close(st.Ready)
	return w.lc.wait()
}

// wire starts every part of the mode (brokers first), in stage order.
func (w *wiring) wire() error {
	if err := w.startBrokers(); err != nil {
		return err
	}
	w.topics = schemas.Topics(w.cfg.Kafka.TopicPrefix)
	parts, err := ensureTopics(w.lc.wiringCtx(), w.cfg, w.topics, w.logger)
	if err != nil {
		return err
	}
	if w.rules, err = w.loadRules(); err != nil {
		return err
	}
	var view *processor.View
	var astore *store.Store
	var svc *alerts.Service
	if w.mode.ingest() {
		if err := w.wireIngest(); err != nil {
			return err
		}
	}
	if w.mode.process() {
		if view, err = w.wireProcessor(); err != nil {
			return err
		}
	}
	if w.mode.alerts() {
		if astore, svc, err = w.wireAlerts(); err != nil {
			return err
		}
	}
	w.st.View, w.st.Alerts = view, astore
	w.wireHTTP(view, astore, svc)
	w.logger.Info("resilience running", "mode", w.mode, "kafka", w.cfg.Kafka.Brokers, "mqtt", w.cfg.Ingest.URL,
		"influx", w.cfg.Influx.URL, "http", w.cfg.HTTP.Listen, "partitions", parts)
	return nil
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startBrokers starts the embedded Kafka log and MQTT broker the config
// asks for (run mode only) and points the config at them.
func (w *wiring) startBrokers() error {
	cfg := &w.cfg
	if cfg.EmbeddedKafka() {
		if w.mode != ModeRun {
			return fmt.Errorf("kafka.brokers: required for `%s` (only `run` starts the embedded log)", w.mode)
		}
		kc := cfg.Kafka.Embedded
		kc.DataDir = filepath.Join(cfg.DataDir, "kafka")
		kl, err := embedded.NewKafka(kc, w.logger)
		if err != nil {
			return err
		}
		w.lc.runBroker(kl.Run)
		cfg.Kafka.Brokers = kl.Brokers()
	}
	if w.mode.ingest() && cfg.EmbeddedMQTT() {
		if err := w.startMQTT(); err != nil {
			return err
		}
	}
	w.st.Brokers, w.st.MQTTURL = cfg.Kafka.Brokers, cfg.Ingest.URL
	return nil
}

// startMQTT starts the embedded MQTT broker; without --dev the in-process
// collector authenticates like any other client, with a credential made
// for this run.
func (w *wiring) startMQTT() error {
	cfg := &w.cfg
	if w.mode != ModeRun {
		return errors.New("ingest.mqtt_url: required for `ingest` (only `run` starts the embedded broker)")
	}
	mc := cfg.MQTT.Embedded
	mc.DataDir = filepath.Join(cfg.DataDir, "mqtt")
	mc.Dev = cfg.Dev
	if !cfg.Dev {
		var pw [24]byte
		if _, err := rand.Read(pw[:]); err != nil {
			return err
		}
		mc.InternalUser, mc.InternalPassword = "resilience-run-collector", hex.EncodeToString(pw[:])
		cfg.Ingest.Username, cfg.Ingest.Password, cfg.Ingest.PasswordFile = mc.InternalUser, mc.InternalPassword, ""
	}
	mb, err := embedded.NewMQTT(mc, w.logger)
	if err != nil {
		return err
	}
	w.lc.runBroker(mb.Run)
	cfg.Ingest.URL = mb.URL()
	return mb.Register(w.reg)
}

// writer returns a Kafka writer of its own for one component, whose calls
// carry up to perCall messages, closed once every part has stopped.
func (w *wiring) writer(perCall int) *kafkax.Writer {
	kw := kafkax.NewWriter(kafkax.WriterOptions{Brokers: w.cfg.Kafka.Brokers,
		BatchSize: kafkax.PartitionBatch(perCall, w.cfg.Kafka.Partitions)})
	w.lc.closeAfterParts(func() { kw.Close() })
	return kw
}

// processorWriteCall is the call size the processor's writer is sized
// for. Its calls are a batch's changed states (about 4.5 KB each, so a
// produce request of BatchBytes holds a few hundred) and the alert
// events that queued while the previous alert write was in flight (a
// handful, more in a storm, which then take further requests): not
// processor.batch_size.
const processorWriteCall = 1024

// loadRules reads the rules file once: the processor evaluates the
// station rules (and hot-reloads them), the alerts service the basin rules.
func (w *wiring) loadRules() (*rules.RuleSet, error) {
	if w.cfg.RulesFile == "" || !(w.mode.process() || w.mode.alerts()) {
		return rules.DefaultRuleSet(), nil
	}
	return rules.LoadRuleSet(w.cfg.RulesFile)
}

func (w *wiring) wireIngest() error {
	col, err := ingest.New(w.cfg.Ingest, ingest.Deps{Registry: w.stations, Writer: w.writer(w.cfg.Ingest.BatchSize), Topics: w.topics},
		w.logger, w.reg)
	if err != nil {
		return err
	}
	w.lc.run(stageIngest, "ingest", col.Run)
	w.checks["ingest"] = col.Ready // nil once connected and subscribed, else why not
	return nil
}

func (w *wiring) wireProcessor() (*processor.View, error) {
	engine, err := rules.NewEngine(w.rules, w.stations)
	if err != nil {
		return nil, err
	}
	w.watchRules(engine)
	points, spool, err := w.pointSink()
	if err != nil {
		return nil, err
	}
	view := processor.NewView(w.stations, 1000)
	proc, err := processor.New(w.cfg.Processor, processor.Deps{Brokers: w.cfg.Kafka.Brokers, Registry: w.stations,
		Engine: engine, Points: points, Writer: w.writer(processorWriteCall), AlertWriter: w.writer(processorWriteCall),
		View: view, Topics: w.topics}, w.logger, w.reg)
	if err != nil {
		return nil, err
	}
	w.lc.run(stageProcess, "processor", proc.Run)
	w.checks["processor"] = proc.Ready // nil while a member of a live generation with its workers running, else why not
	w.degradations["points"] = func() string { return pointsDegraded(proc.LandingGap(), spool) }
	return view, nil
}

// watchRules hot-reloads the rules file into engine (if there is one).
func (w *wiring) watchRules(engine *rules.Engine) {
	if w.cfg.RulesFile == "" {
		return
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_rules_reloads_total",
		Help: "Rules file reload attempts, by result (ok, error: the old rules stay in force)."}, []string{"result"})
	w.reg.MustRegister(reloads)
	rw := &rules.Watcher{Path: w.cfg.RulesFile, Engine: engine, Logger: w.logger.With("component", "rules"),
		OnReload: func(err error) {
			if err != nil {
				reloads.WithLabelValues("error").Inc()
			} else {
				reloads.WithLabelValues("ok").Inc()
			}
		}}
	rw.Prime()
	w.lc.run(stageProcess, "rules watcher", rw.Run)
}

// pointSink is InfluxDB (with its spool) when configured, else local
// line-protocol files. The sink runs (drains its spool) until the
// processor has stopped, and closes after every part.
func (w *wiring) pointSink() (processor.PointSink, *influxsink.Sink, error) {
	if w.cfg.Influx.URL == "" {
		fsink, err := filesink.New(filepath.Join(w.cfg.DataDir, "points"))
		if err != nil {
			return nil, nil, err
		}
		w.lc.closeAfterParts(func() { fsink.Close() })
		w.logger.Info("no InfluxDB configured: points go to line-protocol files", "dir", fsink.Dir())
		return fsink, nil, nil
	}
	ic := w.cfg.Influx
	if ic.SpoolDir == "" {
		ic.SpoolDir = filepath.Join(w.cfg.DataDir, "spool", "influx")
	}
	sink, err := influxsink.New(ic, w.logger, w.reg)
	if err != nil {
		return nil, nil, err
	}
	w.lc.closeAfterParts(sink.Close)
	w.lc.run(stageSinks, "influx sink", sink.Run)
	return sink, sink, nil
}

func (w *wiring) wireAlerts() (*store.Store, *alerts.Service, error) {
	ac := w.cfg.Alerts
	astore := store.NewWithOptions(store.Options{ResolvedRetention: ac.ResolvedRetention})
	// One silence set: the service folds the silences of the actions topic
	// into it, the dispatcher asks it.
	silences := silence.NewSet()
	d, err := w.wireDispatch(silences)
	if err != nil {
		return nil, nil, err
	}
	// Basin-scope composites are evaluated here, where every station's
	// alerts arrive (hot reload covers the station rules only).
	o := alerts.Options{Brokers: w.cfg.Kafka.Brokers, Store: astore,
		Notifiers: []notify.Notifier{&lognotify.Notifier{Logger: w.logger.With("component", "notify")}},
		Logger:    w.logger, Registry: w.reg, Topics: w.topics, NotifyMaxAge: ac.NotifyMaxAge,
		Basin: basin.New(w.rules, w.stations), Writer: w.writer(100), Silences: silences}
	if d != nil {
		o.Dispatcher = d
	}
	if o.Dispatcher, err = w.wirePublish(o.Dispatcher); err != nil {
		return nil, nil, err
	}
	svc, err := alerts.New(o)
	if err != nil {
		return nil, nil, err
	}
	w.lc.run(stageAlerts, "alerts", svc.Run)
	w.checks["alerts"] = func() error {
		if !svc.CaughtUp() {
			return errors.New("replaying the alerts topic")
		}
		return nil
	}
	return astore, svc, nil
}

// wireDispatch builds the notification delivery from alerts.routes_file
// (nil without one: alerts are only logged): the routing watcher, every
// receiver's channels, the notification log and the dispatcher, each run in
// the alerts stage.
func (w *wiring) wireDispatch(silences *silence.Set) (*dispatch.Dispatcher, error) {
	ac := w.cfg.Alerts
	if ac.RoutesFile == "" {
		w.logger.Warn("no alerts.routes_file: alerts are logged, nobody is notified")
		return nil, nil
	}
	var d *dispatch.Dispatcher
	logger := w.logger.With("component", "dispatch")
	rw, err := route.NewWatcher(ac.RoutesFile, 0, logger, func(err error) {
		if err != nil || d == nil {
			return
		}
		// Receivers added by a reload have no channel until a restart.
		if err := d.Check(w.routes.Current()); err != nil {
			logger.Error("routing file reloaded with receivers that have no channel (restart to build them)", "file", ac.RoutesFile, "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("alerts.routes_file: %w", err)
	}
	w.routes = rw
	chans, err := alerts.BuildChannels(rw.Current(), w.channelOptions())
	if err != nil {
		return nil, fmt.Errorf("alerts.routes_file %s: %w", ac.RoutesFile, err)
	}
	nl, err := w.notificationLog()
	if err != nil {
		return nil, err
	}
	d, err = dispatch.New(dispatch.Config{Routes: rw.Current, Channels: chans.ByReceiver, Log: nl,
		Silences: silences, Inhibit: inhibit.New(inhibit.Defaults()), Logger: logger, MaxAge: ac.NotifyMaxAge})
	if err != nil {
		return nil, err
	}
	if err := d.Register(w.reg); err != nil {
		return nil, err
	}
	if err := d.Check(rw.Current()); err != nil {
		return nil, fmt.Errorf("alerts.routes_file %s: %w", ac.RoutesFile, err)
	}
	for _, sr := range chans.Sirens {
		w.lc.run(stageAlerts, "siren "+sr.Name(), sr.Run)
	}
	w.lc.run(stageAlerts, "routes watcher", rw.Run)
	if ac.NFLog.Kind == "kafka" {
		// Replicas share the notification log: the holder of the dispatch
		// lease (partition 0 of the log's topic, alerts/lease) dispatches,
		// the others are hot standbys.
		topic := w.cfg.Kafka.TopicPrefix + nflog.DefaultTopic
		ls, err := lease.New(lease.Config{Brokers: w.cfg.Kafka.Brokers, Topic: topic, Group: topic + ".dispatch",
			Logger: logger, Registry: w.reg})
		if err != nil {
			return nil, err
		}
		w.lc.run(stageAlerts, "dispatcher", func(ctx context.Context) error { return ls.Run(ctx, d.Run) })
	} else {
		w.lc.run(stageAlerts, "dispatcher", d.Run)
	}
	w.lc.run(stageAlerts, "notification log compaction", func(ctx context.Context) error { return compactLoop(ctx, nl, w.logger) })
	w.st.Sirens = chans.Sirens
	return d, nil
}

// channelOptions are the channels' settings from the config.
func (w *wiring) channelOptions() alerts.ChannelOptions {
	ac := w.cfg.Alerts
	o := alerts.ChannelOptions{BaseDir: filepath.Dir(ac.RoutesFile), ConsoleURL: ac.ConsoleURL, Registry: w.stations,
		SMTPAddr: ac.SMTP.Addr, SMTPFrom: ac.SMTP.From, RequireTLS: ac.SMTP.RequireTLS, MQTTURL: ac.MQTTURL,
		ClientIDPrefix: "resilience-alerts-" + w.instance + "-", Logger: w.logger.With("component", "siren")}
	if o.MQTTURL == "" {
		// The ingest broker (the embedded one in run mode), with the
		// collector's credential.
		o.MQTTURL, o.MQTTUsername, o.MQTTPassword = w.cfg.Ingest.URL, w.cfg.Ingest.Username, w.cfg.Ingest.Password
		if o.MQTTPassword == "" && w.cfg.Ingest.PasswordFile != "" {
			if b, err := os.ReadFile(w.cfg.Ingest.PasswordFile); err == nil {
				o.MQTTPassword = strings.TrimSpace(string(b))
			}
		}
	}
	return o
}

// notificationLog opens alerts.nflog: a file under data_dir (one replica)
// or the compacted topic <prefix>alerts.nflog (shared by replicas).
func (w *wiring) notificationLog() (nflog.Log, error) {
	nc := w.cfg.Alerts.NFLog
	var nl nflog.Log
	var err error
	switch nc.Kind {
	case "kafka":
		nl, err = nflog.OpenKafka(w.lc.wiringCtx(), nflog.KafkaOptions{Brokers: w.cfg.Kafka.Brokers,
			Topic: w.cfg.Kafka.TopicPrefix + nflog.DefaultTopic, ReplicationFactor: w.cfg.Kafka.ReplicationFactor, Retention: nc.Retention})
	default:
		dir := filepath.Join(w.cfg.DataDir, "alerts")
		if err = os.MkdirAll(dir, 0o750); err == nil {
			nl, err = nflog.OpenFile(filepath.Join(dir, "nflog"), nc.Retention)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("alerts.nflog (%s): %w", nc.Kind, err)
	}
	w.lc.closeAfterParts(func() { nl.Close() })
	return nl, nil
}

// compactLoop drops the notification log's expired final entries hourly.
func compactLoop(ctx context.Context, nl nflog.Log, logger *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := nl.Compact(ctx, time.Now()); err != nil {
			logger.Warn("notification log compaction failed; retrying in an hour", "err", err)
		} else if n > 0 {
			logger.Info("notification log compacted", "dropped", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *wiring) wireHTTP(view *processor.View, astore *store.Store, svc *alerts.Service) {
	ho := httpapi.Options{Listen: w.cfg.HTTP.Listen, Gatherer: w.reg, Checks: w.checks, Degradations: w.degradations, Logger: w.logger}
	if w.stations != nil {
		ho.Registry = w.stations
	}
	if err := w.apiSecurity(&ho); err != nil {
		w.lc.run(stageHTTP, "http", func(context.Context) error { return err })
		return
	}
	if view != nil {
		var _ httpapi.SeenStations = view // the feed copies only the stations that changed
		ho.Stations = view
	}
	if astore != nil {
		api := alertsAPI{s: astore}
		for _, sr := range w.st.Sirens {
			api.sirens = append(api.sirens, sr)
		}
		ho.Alerts = api
		ho.Actions = alertsActor{svc}
		ho.Silences = silencesAPI{svc}
	}
	ho.CAP = w.capAPI // nil: no public warnings
	startConsole := w.wireConsole(&ho)
	srv := httpapi.New(ho)
	w.lc.run(stageHTTP, "http", srv.Run)
	startConsole(srv)
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
		// Operator actions, keyed by action id: every action is kept (the
		// alerts store folds them on every start).
		{Name: t.Actions, Partitions: p, ReplicationFactor: rf, Configs: map[string]string{"cleanup.policy": "compact"}},
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
