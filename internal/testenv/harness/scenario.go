package harness

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
	"sync"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/domain"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/schemas"
)

// Options describe one scenario.
type Options struct {
	// Name is a short label (e.g. "f3"); the scenario's resources are named
	// chaos-<name>-<unix>-<random>.
	Name string
	// Bin is the resilience binary (Build).
	Bin string
	// Dir is the scenario's working directory (configs, logs, data).
	Dir string
	// Stations is the number of stations (default 10).
	Stations int
	// Partitions of the scenario's topics (default 4).
	Partitions int
	// Logger receives progress lines (default: discard).
	Logger *slog.Logger
	// Prefix starts the resource names (default "chaos").
	Prefix string
	// StationID names station i from the scenario's random tag (upper-case
	// hex; default C<TAG>-<NAME>-<i, 2 digits>).
	StationID func(tag string, i int) string
	// Shape shapes the stations (default: see RegistryYAML).
	Shape *StationSpec
}

// Scenario is one isolated run against the shared servers: its own Kafka
// topic prefix, consumer group, MQTT share group and client ids, InfluxDB
// bucket and station registry.
type Scenario struct {
	Servers  Servers
	ID       string // chaos-<name>-<unix>-<random>: prefix, groups, bucket
	Dir      string
	Bin      string
	Stations []string
	Topics   schemas.KafkaTopics
	Registry *schemas.Registry
	// StationsFile is the registry the binary reads.
	StationsFile string
	Partitions   int
	Log          *slog.Logger

	mu       sync.Mutex
	procs    map[string]*Proc // latest process per name
	all      []*Proc          // every process ever started
	clients  map[string]bool  // collector client ids used (sessions to drop)
	bucketID *domain.Bucket
}

// New creates the scenario's station registry and InfluxDB bucket. Close
// removes what it created on the servers.
func New(ctx context.Context, srv Servers, o Options) (*Scenario, error) {
	if o.Stations <= 0 {
		o.Stations = 10
	}
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prefix == "" {
		o.Prefix = "chaos"
	}
	if o.StationID == nil {
		name := strings.ToUpper(o.Name)
		o.StationID = func(tag string, i int) string { return fmt.Sprintf("C%s-%s-%02d", tag, name, i) }
	}
	if o.Shape == nil {
		sp := chaosStations()
		o.Shape = &sp
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("harness: random name: %w", err)
	}
	tag := hex.EncodeToString(b[:])
	id := fmt.Sprintf("%s-%s-%d-%s", o.Prefix, strings.ToLower(o.Name), time.Now().Unix(), tag)
	s := &Scenario{Servers: srv, ID: id, Dir: o.Dir, Bin: o.Bin, Partitions: o.Partitions, Log: o.Logger,
		Topics: schemas.Topics(id + "."), procs: map[string]*Proc{}, clients: map[string]bool{}}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	for i := 0; i < o.Stations; i++ {
		s.Stations = append(s.Stations, o.StationID(strings.ToUpper(tag), i))
	}
	s.StationsFile = filepath.Join(s.Dir, "stations.yaml")
	if err := os.WriteFile(s.StationsFile, []byte(StationsYAML(s.Stations, *o.Shape)), 0o600); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	reg, err := schemas.LoadRegistry(s.StationsFile)
	if err != nil {
		return nil, fmt.Errorf("harness: scenario %s: %w", id, err)
	}
	s.Registry = reg
	if err := os.WriteFile(filepath.Join(s.Dir, "influx-token"), []byte(srv.InfluxToken), 0o600); err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	if err := s.createBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Registry levels of every harness station (metres): I 5.0, II 5.5, III 7.0.
const (
	LevelI   = 5.0
	LevelII  = 5.5
	LevelIII = 7.0
)

// RegistryYAML is a station registry for ids: water_level only, alarm
// levels LevelI..LevelIII, a one-day interval (so that the offline rule
// never fires during a scenario) and a basin of its own per station (so
// that basin-scope composites, which need two stations, never fire).
func RegistryYAML(ids []string) string { return StationsYAML(ids, chaosStations()) }

// chaosStations is the shape of RegistryYAML's stations.
func chaosStations() StationSpec {
	return StationSpec{Name: "chaos", Interval: "24h", Sensors: []string{"water_level"}, Districts: 5}
}

func (s *Scenario) createBucket(ctx context.Context) error {
	b, err := CreateBucket(ctx, s.Servers, s.ID)
	if err != nil {
		return err
	}
	s.bucketID = b
	return nil
}

// Config is what a scenario's config file may change.
type Config struct {
	// MQTTURL replaces the real broker (e.g. a TCPProxy in front of it).
	MQTTURL string
	// InfluxURL replaces the real InfluxDB (e.g. an HTTPProxy).
	InfluxURL string
	// InfluxTimeout is influx.timeout (default 3s).
	InfluxTimeout time.Duration
	// Extra is appended verbatim under the named section, e.g.
	// Extra["influx"] = "spool_max_bytes: 65536".
	Extra map[string]string
	// DirectSubscription makes collectors subscribe without $share (one
	// collector only). Mosquitto 2.0 does not restore a persistent
	// session's $share subscriptions from its database after a restart:
	// until the collector subscribes again, readings published to the
	// restarted broker reach no one.
	DirectSubscription bool
}

// WriteConfig writes the config file every process of the scenario uses
// and returns its path. name distinguishes several configs.
func (s *Scenario) WriteConfig(name string, c Config) (string, error) {
	mqttURL, influxURL := s.Servers.MQTTURL, s.Servers.InfluxURL
	if c.MQTTURL != "" {
		mqttURL = c.MQTTURL
	}
	if c.InfluxURL != "" {
		influxURL = c.InfluxURL
	}
	if c.InfluxTimeout <= 0 {
		c.InfluxTimeout = 3 * time.Second
	}
	extra := func(sec string) string {
		v := strings.TrimSpace(c.Extra[sec])
		if v == "" {
			return ""
		}
		return "  " + strings.ReplaceAll(v, "\n", "\n  ") + "\n"
	}
	shareGroup := s.ID
	if c.DirectSubscription {
		shareGroup = `""`
	}
	cfg := fmt.Sprintf(`stations_file: stations.yaml
data_dir: data
kafka:
  brokers: [%s]
  topic_prefix: %q
  partitions: %d
%singest:
  mqtt_url: %s
  client_id: %s-collector
  share_group: %s
%sprocessor:
  group: %s-processor
  tick_interval: 1s
  session_timeout: 6s
%sinflux:
  url: %s
  org: %s
  bucket: %s
  token_file: influx-token
  timeout: %s
  attempts: 2
%s`, strings.Join(s.Servers.KafkaBrokers, ", "), s.Topics.Readings[:len(s.Topics.Readings)-len(schemas.KafkaReadings)],
		s.Partitions, extra("kafka"), mqttURL, s.ID, shareGroup, extra("ingest"), s.ID, extra("processor"),
		influxURL, s.Servers.InfluxOrg, s.ID, c.InfluxTimeout, extra("influx"))
	path := filepath.Join(s.Dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("harness: %w", err)
	}
	return path, nil
}

// Start runs `resilience mode` as process name (e.g. "ingest-1") with the
// config at cfg and waits until /readyz answers 200. Each name has its own
// data directory and, for collectors, its own stable MQTT client id, so a
// restarted process resumes where its predecessor stopped.
func (s *Scenario) Start(ctx context.Context, name, mode, cfg string) (*Proc, error) {
	p, err := s.Spawn(name, mode, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, 120*time.Second); err != nil {
		return p, err
	}
	s.Log.Info("ready", "scenario", s.ID, "proc", name, "pid", p.Pid())
	return p, nil
}

// Spawn starts a process like Start without waiting for /readyz.
func (s *Scenario) Spawn(name, mode, cfg string) (*Proc, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	clientID := s.ID + "-" + name
	env := []string{
		"RESILIENCE_DATA_DIR=" + filepath.Join(s.Dir, "data-"+name),
		"RESILIENCE_MQTT_CLIENT_ID=" + clientID,
	}
	logPath := filepath.Join(s.Dir, fmt.Sprintf("%s-%d.log", name, time.Now().UnixNano()))
	p, err := StartProc(ProcSpec{Bin: s.Bin, Name: name, Mode: mode, Config: cfg, HTTP: addr, Log: logPath, Env: env})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.procs[name] = p
	s.all = append(s.all, p)
	if mode == "ingest" || mode == "run" {
		s.clients[clientID] = true
	}
	s.mu.Unlock()
	return p, nil
}

// Proc returns the latest process started under name (nil if none).
func (s *Scenario) Proc(name string) *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs[name]
}

// Procs returns every process ever started, in start order.
func (s *Scenario) Procs() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Proc(nil), s.all...)
}

// PeakRSS is the highest peak resident set of any process of the scenario.
func (s *Scenario) PeakRSS() int64 {
	var m int64
	for _, p := range s.Procs() {
		m = max(m, p.PeakRSS())
	}
	return m
}

// StopAll stops every running process (SIGTERM, then SIGKILL after grace).
func (s *Scenario) StopAll(grace time.Duration) []error {
	var errs []error
	for _, p := range s.Procs() {
		if ok, _ := p.Exited(); ok {
			continue // exited before (a kill of the scenario; the caller judges)
		}
		if err := p.Stop(grace); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Close stops the processes and removes the scenario's bucket, topics and
// collector sessions from the servers (best effort; errors are returned).
func (s *Scenario) Close() error {
	var errs []error
	for _, p := range s.Procs() {
		p.Stop(15 * time.Second)
	}
	for id := range s.clients {
		if err := testenv.DropMQTTSession(s.Servers.MQTTURL, id); err != nil {
			errs = append(errs, err)
		}
	}
	if s.bucketID != nil {
		if err := DeleteBucket(context.Background(), s.Servers, s.bucketID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := DeleteTopics(s.Servers.KafkaBrokers, s.Topics); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
