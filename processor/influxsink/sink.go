package influxsink

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/internal/retry"
)

// Config configures the InfluxDB sink. YAML keys are under `influx:`.
type Config struct {
	// URL of InfluxDB 2, e.g. http://127.0.0.1:8086. Empty: no InfluxDB
	// (the processor uses the file sink instead).
	URL    string `yaml:"url"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	// TokenFile holds a write token (or set RESILIENCE_INFLUX_TOKEN).
	TokenFile string `yaml:"token_file"`
	// Timeout bounds one write request.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts is how many direct writes are tried before spooling.
	Attempts int `yaml:"attempts"`
	// SpoolDir holds batches waiting for InfluxDB. Default: <data_dir>/spool/influx.
	SpoolDir string `yaml:"spool_dir"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Org: "resilience", Bucket: "readings", Timeout: 5 * time.Second, Attempts: 3}
}

// RegisterFlags registers the sink flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "influx.url", c.URL, "InfluxDB 2 URL (empty: readings go to local files)")
	fs.StringVar(&c.Org, "influx.org", c.Org, "InfluxDB organisation")
	fs.StringVar(&c.Bucket, "influx.bucket", c.Bucket, "InfluxDB bucket")
	fs.StringVar(&c.TokenFile, "influx.token-file", c.TokenFile, "file holding the InfluxDB write token")
}

// Validate checks the config; errors name the key.
func (c *Config) Validate() error {
	if c.URL == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("influx.url: %q is not an http(s) URL", c.URL))
	}
	if c.Org == "" {
		errs = append(errs, errors.New("influx.org: required with influx.url"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("influx.bucket: required with influx.url"))
	}
	if c.TokenFile == "" && os.Getenv("RESILIENCE_INFLUX_TOKEN") == "" {
		errs = append(errs, errors.New("influx.token_file: required with influx.url (or set RESILIENCE_INFLUX_TOKEN)"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("influx.timeout: must be positive"))
	}
	if c.Attempts < 1 {
		errs = append(errs, errors.New("influx.attempts: must be at least 1"))
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("influx.spool_dir: required (defaults to <data_dir>/spool/influx)"))
	}
	return errors.Join(errs...)
}

func (c *Config) token() (string, error) {
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("influx.token_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv("RESILIENCE_INFLUX_TOKEN"), nil
}

// Sink writes to InfluxDB, spooling to disk while it is unavailable.
type Sink struct {
	cfg    Config
	client influxdb2.Client
	write  api.WriteAPIBlocking
	logger *slog.Logger
	m      *metrics

	mu      sync.Mutex // guards spool files and seq
	seq     uint64
	spooled atomic.Int64 // batches in the spool
	kick    chan struct{}
	healthy atomic.Bool
}

// New builds a sink and opens its spool.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("influx.url: required for the InfluxDB sink")
	}
	tok, err := cfg.token()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("influx.spool_dir: %w", err)
	}
	// The client takes whole seconds and treats 0 as no timeout at all:
	// round up.
	timeoutSec := uint(max(1, (cfg.Timeout+time.Second-1)/time.Second))
	opts := influxdb2.DefaultOptions().SetUseGZip(true).SetPrecision(time.Millisecond).
		SetHTTPRequestTimeout(timeoutSec).SetLogLevel(0)
	cl := influxdb2.NewClientWithOptions(cfg.URL, tok, opts)
	s := &Sink{cfg: cfg, client: cl, write: cl.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		logger: logger.With("component", "influxsink"), kick: make(chan struct{}, 1)}
	s.healthy.Store(true)
	files, err := s.spoolFiles()
	if err != nil {
		return nil, err
	}
	s.spooled.Store(int64(len(files)))
	if n := len(files); n > 0 {
		last := filepath.Base(files[n-1])
		s.seq, _ = strconv.ParseUint(strings.TrimSuffix(last, ".lp"), 10, 64)
		s.logger.Info("influx spool has batches waiting from a previous run", "batches", n)
	}
	s.m = newMetrics(reg, &s.spooled)
	return s, nil
}

// Close releases the HTTP client.
func (s *Sink) Close() { s.client.Close() }

// Healthy reports whether the last write to InfluxDB succeeded.
func (s *Sink) Healthy() bool { return s.healthy.Load() }

// Write stores lines (newline-separated line protocol). See the package doc
// for the contract.
func (s *Sink) Write(ctx context.Context, lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	// While older batches wait in the spool, InfluxDB is down or catching
	// up: queue behind them instead of hammering it.
	if s.spooled.Load() == 0 {
		var err error
		for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
			if err = s.direct(ctx, lines); err == nil {
				return nil
			}
			if !retryable(err) || ctx.Err() != nil {
				break
			}
			if attempt < s.cfg.Attempts {
				if serr := retry.Sleep(ctx, time.Duration(attempt)*200*time.Millisecond); serr != nil {
					break
				}
			}
		}
		if !retryable(err) {
			// InfluxDB refused the data itself (a 4xx other than 429): keep
			// it aside for an operator rather than retrying forever.
			return s.reject(lines, err)
		}
		s.logger.Warn("influxdb unavailable; spooling to disk", "err", err, "bytes", len(lines))
	}
	return s.toSpool(lines)
}

func (s *Sink) direct(ctx context.Context, lines []byte) error {
	start := time.Now()
	body := strings.TrimSuffix(string(lines), "\n")
	err := s.write.WriteRecord(ctx, body)
	s.m.writeSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.writeErrors.Inc()
		s.healthy.Store(false)
		return fmt.Errorf("influx write %s bucket %s: %w", s.cfg.URL, s.cfg.Bucket, err)
	}
	s.m.lines.Add(float64(strings.Count(body, "\n") + 1))
	s.healthy.Store(true)
	return nil
}

// retryable reports whether a failed write may succeed later: everything
// but InfluxDB refusing the data itself (400 bad line protocol, 413 too
// large, 422 unprocessable). A 401/403 (token rotated) or 404 (bucket
// missing) is an outage an operator fixes: the data waits in the spool.
func retryable(err error) bool {
	var he *ihttp.Error
	if errors.As(err, &he) && he.StatusCode != 0 {
		return he.StatusCode != 400 && he.StatusCode != 413 && he.StatusCode != 422
	}
	return true
}

func (s *Sink) toSpool(lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	name := filepath.Join(s.cfg.SpoolDir, fmt.Sprintf("%020d.lp", s.seq))
	if err := writeFileSync(name, lines); err != nil {
		return fmt.Errorf("influx spool %s: %w", name, err)
	}
	s.spooled.Add(1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

func (s *Sink) reject(lines []byte, cause error) error {
	dir := filepath.Join(s.cfg.SpoolDir, "rejected")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%d.lp", time.Now().UnixNano()))
	if err := writeFileSync(name, lines); err != nil {
		return fmt.Errorf("influx rejected-spool %s: %w", name, err)
	}
	s.m.rejected.Inc()
	s.logger.Error("influxdb rejected a batch; kept for an operator", "file", name, "err", cause)
	return nil
}

func writeFileSync(name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (s *Sink) spoolFiles() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(s.cfg.SpoolDir, "*.lp"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// Run drains the spool into InfluxDB, oldest first, until ctx is done.
func (s *Sink) Run(ctx context.Context) error {
	attempt := 0
	for {
		if s.spooled.Load() == 0 {
			attempt = 0
			select {
			case <-ctx.Done():
				return nil
			case <-s.kick:
			case <-time.After(5 * time.Second):
			}
		}
		// Count under the lock, or a batch spooled meanwhile goes uncounted
		// and a later Write skips the queue.
		s.mu.Lock()
		files, err := s.spoolFiles()
		if err == nil {
			s.spooled.Store(int64(len(files)))
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("influx spool: %w", err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("influx spool %s: %w", f, err)
			}
			if err := s.direct(ctx, data); err != nil {
				if !retryable(err) {
					if rerr := s.reject(data, err); rerr != nil {
						return rerr
					}
				} else {
					attempt++
					wait := min(time.Duration(attempt)*500*time.Millisecond, 10*time.Second)
					s.logger.Warn("influxdb still unavailable; spool waits", "batches", s.spooled.Load(), "attempt", attempt, "retry_in", wait, "err", err)
					if retry.Sleep(ctx, wait) != nil {
						return nil
					}
					break
				}
			}
			attempt = 0
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("influx spool %s: %w", f, err)
			}
			s.spooled.Add(-1)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

type metrics struct {
	writeSeconds prometheus.Histogram
	writeErrors  prometheus.Counter
	lines        prometheus.Counter
	rejected     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, spooled *atomic.Int64) *metrics {
	m := &metrics{
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_influx_write_seconds",
			Help: "Latency of one InfluxDB write request.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_write_errors_total",
			Help: "Failed InfluxDB write requests (the data is retried or spooled, not lost)."}),
		lines: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_lines_total",
			Help: "Line-protocol lines written to InfluxDB."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_rejected_batches_total",
			Help: "Batches InfluxDB refused (4xx), kept in spool/rejected for an operator."}),
	}
	if reg != nil {
		reg.MustRegister(m.writeSeconds, m.writeErrors, m.lines, m.rejected,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_influx_spool_batches",
				Help: "Batches waiting in the local spool for InfluxDB."}, func() float64 { return float64(spooled.Load()) }))
	}
	return m
}
