package influxsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
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
	// SpoolMaxBytes bounds the spool: a batch that would take it above this
	// is refused with ErrSpoolFull.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// SpoolMinFreeBytes is the free disk space (of the spool's file system)
	// the spool leaves to the rest of the machine: below it a batch is
	// refused with ErrSpoolFull.
	SpoolMinFreeBytes int64 `yaml:"spool_min_free_bytes"`
	// DrainWriters is how many write requests drain the spool concurrently.
	DrainWriters int `yaml:"drain_writers"`
	// DrainBatchBytes is the most line protocol (before gzip) per drain
	// request: spool files are merged up to it.
	DrainBatchBytes int `yaml:"drain_batch_bytes"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Org: "resilience", Bucket: "readings", Timeout: 5 * time.Second, Attempts: 3,
		SpoolMaxBytes: 1 << 30, SpoolMinFreeBytes: 256 << 20, DrainWriters: 4, DrainBatchBytes: 4 << 20}
}

// RegisterFlags registers the sink flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "influx.url", c.URL, "InfluxDB 2 URL (empty: readings go to local files)")
	fs.StringVar(&c.Org, "influx.org", c.Org, "InfluxDB organisation")
	fs.StringVar(&c.Bucket, "influx.bucket", c.Bucket, "InfluxDB bucket")
	fs.StringVar(&c.TokenFile, "influx.token-file", c.TokenFile, "file holding the InfluxDB write token")
	fs.Int64Var(&c.SpoolMaxBytes, "influx.spool-max-bytes", c.SpoolMaxBytes, "most bytes of line protocol the InfluxDB spool holds")
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
	if c.SpoolMaxBytes < minSpoolBytes {
		errs = append(errs, fmt.Errorf("influx.spool_max_bytes: must be at least %d", minSpoolBytes))
	}
	if c.SpoolMinFreeBytes < 0 {
		errs = append(errs, errors.New("influx.spool_min_free_bytes: must not be negative"))
	}
	if c.DrainWriters < 1 || c.DrainWriters > 64 {
		errs = append(errs, errors.New("influx.drain_writers: must be between 1 and 64"))
	}
	if c.DrainBatchBytes < 64<<10 || c.DrainBatchBytes > 64<<20 {
		errs = append(errs, errors.New("influx.drain_batch_bytes: must be between 64 KiB and 64 MiB"))
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

// minSpoolBytes is the smallest spool_max_bytes: a processor batch must fit.
const minSpoolBytes = 64 << 10

// Sink writes to InfluxDB, spooling to disk while it is unavailable.
type Sink struct {
	cfg    Config
	client influxdb2.Client
	// writeURL is the write endpoint (org, bucket, ms precision); gzips
	// holds reusable gzip writers for its request bodies.
	writeURL string
	gzips    sync.Pool
	logger   *slog.Logger
	m        *metrics
	// free reports the bytes available to us on dir's file system.
	free func(dir string) (uint64, error)

	mu         sync.Mutex // guards spool files and seq
	seq        uint64
	spooled    atomic.Int64 // batches in the spool
	spoolBytes atomic.Int64 // bytes in the spool
	full       atomic.Bool  // the last batch offered to the spool was refused
	kick       chan struct{}
	healthy    atomic.Bool
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
	opts := influxdb2.DefaultOptions().SetPrecision(time.Millisecond).
		SetHTTPRequestTimeout(timeoutSec).SetLogLevel(0)
	cl := influxdb2.NewClientWithOptions(cfg.URL, tok, opts)
	wu, err := writeURL(cl.HTTPService().ServerAPIURL(), cfg.Org, cfg.Bucket)
	if err != nil {
		cl.Close()
		return nil, err
	}
	s := &Sink{cfg: cfg, client: cl, writeURL: wu,
		logger: logger.With("component", "influxsink"), kick: make(chan struct{}, 1), free: freeBytes}
	s.healthy.Store(true)
	// A crash while spooling leaves a .tmp file: its batch was never
	// acknowledged, so it is not ours to keep.
	if tmps, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.lp.tmp")); len(tmps) > 0 {
		for _, f := range tmps {
			os.Remove(f)
		}
	}
	files, err := s.recount()
	if err != nil {
		return nil, fmt.Errorf("influx.spool_dir: %w", err)
	}
	if n := len(files); n > 0 {
		last := filepath.Base(files[n-1].name)
		s.seq, _ = strconv.ParseUint(strings.TrimSuffix(last, ".lp"), 10, 64)
		s.logger.Info("influx spool has batches waiting from a previous run", "batches", n, "bytes", s.spoolBytes.Load())
	}
	s.m = newMetrics(reg, s)
	return s, nil
}

// Close releases the HTTP client.
func (s *Sink) Close() { s.client.Close() }

// Healthy reports whether the last write to InfluxDB succeeded.
func (s *Sink) Healthy() bool { return s.healthy.Load() }

// Full reports whether the sink refused a batch with ErrSpoolFull and has
// since neither accepted one nor written to InfluxDB.
func (s *Sink) Full() bool { return s.full.Load() }

// SpoolBytes is the line protocol waiting in the spool.
func (s *Sink) SpoolBytes() int64 { return s.spoolBytes.Load() }

// SpoolLimit is the configured bound of the spool (influx.spool_max_bytes).
func (s *Sink) SpoolLimit() int64 { return s.cfg.SpoolMaxBytes }

// Write stores lines (newline-separated line protocol). See the package doc
// for the contract. It returns an error wrapping ErrSpoolFull, without
// waiting, when InfluxDB did not take the lines and the spool is full.
func (s *Sink) Write(ctx context.Context, lines []byte) error {
	if len(lines) == 0 {
		return nil
	}
	// While older batches wait in the spool, InfluxDB is down or catching
	// up: queue behind them instead of hammering it.
	if s.spooled.Load() == 0 {
		var err error // the last write's error
		if retry.Do(ctx, retry.Policy{Min: 200 * time.Millisecond, Max: time.Second, Attempts: s.cfg.Attempts}, func(int) error {
			if err = s.direct(ctx, lines); err != nil && !retryable(err) {
				return retry.Permanent(err)
			}
			return err
		}) == nil {
			return nil
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

// direct writes body to InfluxDB in one request.
func (s *Sink) direct(ctx context.Context, body []byte) error {
	start := time.Now()
	body = bytes.TrimSuffix(body, []byte("\n"))
	err := s.post(ctx, body)
	s.m.writeSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.writeErrors.Inc()
		s.healthy.Store(false)
		return fmt.Errorf("influx write %s bucket %s: %w", s.cfg.URL, s.cfg.Bucket, err)
	}
	s.m.lines.Add(float64(bytes.Count(body, []byte("\n")) + 1))
	s.healthy.Store(true)
	s.full.Store(false)
	return nil
}

// gzipBody is a reusable gzip writer and its output.
type gzipBody struct {
	buf bytes.Buffer
	zw  *gzip.Writer
}

// post sends body gzipped (BestSpeed, the writer reused: the client's own
// write API made a new default-level writer and a goroutine per request)
// through the client's HTTP service, which adds the token and turns an
// error answer into an *ihttp.Error with its status code.
func (s *Sink) post(ctx context.Context, body []byte) error {
	g, _ := s.gzips.Get().(*gzipBody)
	if g == nil {
		zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
		g = &gzipBody{zw: zw}
	}
	defer s.gzips.Put(g)
	g.buf.Reset()
	g.zw.Reset(&g.buf)
	if _, err := g.zw.Write(body); err != nil {
		return err
	}
	if err := g.zw.Close(); err != nil {
		return err
	}
	if perr := s.client.HTTPService().DoPostRequest(ctx, s.writeURL, bytes.NewReader(g.buf.Bytes()), func(req *http.Request) {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}, func(r *http.Response) error {
		return r.Body.Close()
	}); perr != nil {
		return perr
	}
	return nil
}

// writeURL is the write endpoint under the client's API URL (…/api/v2/)
// for org and bucket, precision milliseconds, built as the client's own
// write API builds it.
func writeURL(apiURL, org, bucket string) (string, error) {
	u, err := url.Parse(apiURL)
	if err == nil {
		u, err = u.Parse("write")
	}
	if err != nil {
		return "", fmt.Errorf("influx.url: %w", err)
	}
	u.RawQuery = url.Values{"org": {org}, "bucket": {bucket}, "precision": {"ms"}}.Encode()
	return u.String(), nil
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

// toSpool writes lines to a new spool file (fsync), or refuses them with
// ErrSpoolFull when they would take the spool above SpoolMaxBytes or the
// disk below SpoolMinFreeBytes.
func (s *Sink) toSpool(lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(lines))
	if held := s.spoolBytes.Load(); held+n > s.cfg.SpoolMaxBytes {
		return s.refuse(fmt.Errorf("%w: %s holds %d bytes, %d more would pass influx.spool_max_bytes %d",
			ErrSpoolFull, s.cfg.SpoolDir, held, n, s.cfg.SpoolMaxBytes))
	}
	if free, err := s.free(s.cfg.SpoolDir); err != nil {
		s.logger.Warn("influx spool: free space unknown", "dir", s.cfg.SpoolDir, "err", err)
	} else if free < uint64(s.cfg.SpoolMinFreeBytes)+uint64(n) {
		return s.refuse(fmt.Errorf("%w: %s has %d bytes free, influx.spool_min_free_bytes is %d",
			ErrSpoolFull, s.cfg.SpoolDir, free, s.cfg.SpoolMinFreeBytes))
	}
	s.seq++
	name := filepath.Join(s.cfg.SpoolDir, fmt.Sprintf("%020d.lp", s.seq))
	if err := writeFileSync(name, lines); err != nil {
		return fmt.Errorf("influx spool %s: %w", name, err)
	}
	s.spooled.Add(1)
	s.spoolBytes.Add(n)
	s.full.Store(false)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

func (s *Sink) refuse(err error) error {
	if !s.full.Swap(true) {
		s.logger.Error("influx spool full: refusing points until InfluxDB drains it", "err", err)
	}
	s.m.refused.Inc()
	return err
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

// spoolFile is one batch waiting in the spool.
type spoolFile struct {
	name string
	size int64
}

// recount lists the spool, oldest first, and sets the counters from it.
func (s *Sink) recount() ([]spoolFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, err := filepath.Glob(filepath.Join(s.cfg.SpoolDir, "*.lp"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	files := make([]spoolFile, 0, len(names))
	var total int64
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			return nil, err
		}
		files = append(files, spoolFile{n, fi.Size()})
		total += fi.Size()
	}
	s.spooled.Store(int64(len(files)))
	s.spoolBytes.Store(total)
	return files, nil
}

// Run drains the spool into InfluxDB until ctx is done, and returns nil
// then. A failed round (InfluxDB still down, a disk error) is retried with
// backoff; Run never returns an error, since that would stop the process.
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
		err := s.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			attempt = 0
			continue
		}
		attempt++
		wait := retry.Backoff(attempt, 200*time.Millisecond, 10*time.Second)
		s.logger.Warn("influx spool drain incomplete; retrying", "batches", s.spooled.Load(), "bytes", s.spoolBytes.Load(),
			"attempt", attempt, "retry_in", wait, "err", err)
		if retry.Sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// drain makes one pass over the spool: files are merged into requests of up
// to DrainBatchBytes, sent by DrainWriters concurrent writers (the points
// are idempotent, so their order does not matter), and removed once
// InfluxDB has them. It stops at the first retryable failure and returns it.
func (s *Sink) drain(ctx context.Context) error {
	files, err := s.recount()
	if err != nil {
		return fmt.Errorf("influx spool %s: %w", s.cfg.SpoolDir, err)
	}
	chunks := make(chan []spoolFile)
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	var failed error
	var failOnce sync.Once
	var wg sync.WaitGroup
	for range s.cfg.DrainWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				if err := s.drainChunk(dctx, c); err != nil {
					failOnce.Do(func() { failed = err; stop() })
				}
			}
		}()
	}
	for len(files) > 0 && dctx.Err() == nil {
		n, size := 1, files[0].size
		for n < len(files) && size+files[n].size <= int64(s.cfg.DrainBatchBytes) {
			size += files[n].size
			n++
		}
		select {
		case chunks <- files[:n]:
			files = files[n:]
		case <-dctx.Done():
		}
	}
	close(chunks)
	wg.Wait()
	return failed
}

// drainChunk writes the files of one chunk in one request and removes them.
// A chunk InfluxDB refuses as data (4xx) is retried file by file, so that
// only the bad batch is set aside.
func (s *Sink) drainChunk(ctx context.Context, files []spoolFile) error {
	var b bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f.name)
		if err != nil {
			return fmt.Errorf("influx spool %s: %w", f.name, err)
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	err := s.direct(ctx, b.Bytes())
	switch {
	case err == nil:
		return s.remove(files)
	case retryable(err):
		return err
	case len(files) > 1:
		for _, f := range files {
			if err := s.drainChunk(ctx, []spoolFile{f}); err != nil {
				return err
			}
		}
		return nil
	default:
		data, rerr := os.ReadFile(files[0].name)
		if rerr == nil {
			rerr = s.reject(data, err)
		}
		if rerr != nil {
			return rerr
		}
		return s.remove(files)
	}
}

// remove deletes drained files from the spool.
func (s *Sink) remove(files []spoolFile) error {
	for _, f := range files {
		if err := os.Remove(f.name); err != nil {
			return fmt.Errorf("influx spool %s: %w", f.name, err)
		}
		s.spooled.Add(-1)
		s.spoolBytes.Add(-f.size)
	}
	return nil
}

type metrics struct {
	writeSeconds prometheus.Histogram
	writeErrors  prometheus.Counter
	lines        prometheus.Counter
	rejected     prometheus.Counter
	refused      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Sink) *metrics {
	m := &metrics{
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "resilience_influx_write_seconds",
			Help: "Latency of one InfluxDB write request.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_write_errors_total",
			Help: "Failed InfluxDB write requests (the data is retried or spooled, not lost)."}),
		lines: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_lines_total",
			Help: "Line-protocol lines written to InfluxDB."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_rejected_batches_total",
			Help: "Batches InfluxDB refused (4xx), kept in spool/rejected for an operator."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_influx_spool_refused_total",
			Help: "Batches refused with ErrSpoolFull (spool at influx.spool_max_bytes or disk below influx.spool_min_free_bytes); the processor re-reads them from Kafka later."}),
	}
	if reg != nil {
		reg.MustRegister(m.writeSeconds, m.writeErrors, m.lines, m.rejected, m.refused,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_influx_spool_batches",
				Help: "Batches waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.spooled.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_influx_spool_bytes",
				Help: "Bytes of line protocol waiting in the local spool for InfluxDB."}, func() float64 { return float64(s.spoolBytes.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "resilience_influx_spool_limit_bytes",
				Help: "The spool's bound (influx.spool_max_bytes)."}, func() float64 { return float64(s.cfg.SpoolMaxBytes) }))
	}
	return m
}
