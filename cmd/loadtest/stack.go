package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/domain"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/schemas"
)

// stationIDs returns the ids of n load-test stations: LT-00001 ...
func stationIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("LT-%05d", i+1)
	}
	return ids
}

// registryYAML is a station registry for ids.
func registryYAML(ids []string) string {
	var sb strings.Builder
	sb.WriteString("stations:\n")
	for i, id := range ids {
		fmt.Fprintf(&sb, "  - id: %s\n    name: load test %d\n    basin: loadtest\n    district: d%d\n"+
			"    lat: 16.0\n    lon: 108.0\n    interval: 10m\n    sensors: [water_level]\n"+
			"    alarm_levels_m: {I: 5.0, II: 5.5, III: 7.0}\n", id, i+1, i%8)
	}
	return sb.String()
}

// freeAddr returns a free loopback address (closed again: the binary
// listens on it).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// uniqueName is lt-<unix seconds>-<4 random bytes>.
func uniqueName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("lt-%d-%s", time.Now().Unix(), hex.EncodeToString(b))
}

// moduleRoot is the directory of the go.mod that `go env GOMOD` reports.
func moduleRoot(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the resilience module; run from the repository root")
	}
	return filepath.Dir(mod), nil
}

// buildBinary runs `go build -o dir/resilience ./cmd/resilience`.
func buildBinary(ctx context.Context, goCmd, dir string) (string, error) {
	root, err := moduleRoot(ctx, goCmd)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "resilience")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/resilience")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/resilience: %w\n%s", err, out)
	}
	return bin, nil
}

// serverEnv is where the real servers are (mode servers). InfluxURL is
// empty when InfluxDB is not used.
type serverEnv struct {
	MQTTURL     string
	Brokers     []string
	InfluxURL   string
	InfluxOrg   string
	InfluxToken string
}

// loadServerEnv reads MQTT_URL, KAFKA_BROKERS and, with influx, INFLUX_URL,
// INFLUX_ORG and INFLUX_TOKEN_FILE (the operator token: it creates the
// bucket).
func loadServerEnv(getenv func(string) string, influx bool) (serverEnv, error) {
	var missing []string
	get := func(k string) string {
		v := strings.TrimSpace(getenv(k))
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	e := serverEnv{MQTTURL: get("MQTT_URL")}
	brokers := get("KAFKA_BROKERS")
	var tokenFile string
	if influx {
		e.InfluxURL, e.InfluxOrg, tokenFile = get("INFLUX_URL"), get("INFLUX_ORG"), get("INFLUX_TOKEN_FILE")
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("mode servers: %s unset; run `deployments/local/services up` and "+
			"`set -a; source .cache/services/env; set +a` first", strings.Join(missing, ", "))
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			e.Brokers = append(e.Brokers, b)
		}
	}
	if influx {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return e, fmt.Errorf("INFLUX_TOKEN_FILE: %w", err)
		}
		e.InfluxToken = strings.TrimSpace(string(tok))
	}
	return e, nil
}

// prepareServers creates the run's InfluxDB bucket (named name) and writes
// its token to dir/influx-token. The returned cleanup deletes the bucket
// and the run's Kafka topics (prefix name+".") unless keep.
func prepareServers(ctx context.Context, env serverEnv, dir, name string, keep bool, logf func(string, ...any)) (func(), error) {
	dropBucket := func(context.Context) error { return nil }
	if env.InfluxURL != "" {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		drop, err := createBucket(bctx, env, name)
		cancel()
		if err != nil {
			return nil, err
		}
		dropBucket = drop
		if err := os.WriteFile(filepath.Join(dir, "influx-token"), []byte(env.InfluxToken), 0o600); err != nil {
			return nil, err
		}
	}
	if keep {
		if env.InfluxURL != "" {
			logf("keeping kafka topics %s.* and influx bucket %s", name, name)
		} else {
			logf("keeping kafka topics %s.*", name)
		}
		return func() {}, nil
	}
	return func() {
		// Drop the collector's persistent session, or the broker queues
		// every later reading for it.
		if err := testenv.DropMQTTSession(env.MQTTURL, name+"-collector"); err != nil {
			logf("cleanup: %v", err)
		}
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropBucket(dctx); err != nil {
			logf("cleanup: %v", err)
		}
		if err := deleteTopics(env.Brokers, schemas.Topics(name+".")); err != nil {
			logf("cleanup: %v", err)
		}
	}, nil
}

// serversConfig is the resilience config of mode servers: the run's topic
// prefix, consumer group, share group and bucket are all named name.
func serversConfig(env serverEnv, partitions int, name string) string {
	cfg := fmt.Sprintf(`stations_file: stations.yaml
data_dir: data
kafka:
  brokers: [%s]
  topic_prefix: %q
  partitions: %d
ingest:
  mqtt_url: %s
  client_id: %s-collector
  share_group: %s
processor:
  group: %s-processor
`, strings.Join(env.Brokers, ", "), name+".", partitions, env.MQTTURL, name, name, name)
	if env.InfluxURL != "" {
		cfg += fmt.Sprintf(`influx:
  url: %s
  org: %s
  bucket: %s
  token_file: influx-token
`, env.InfluxURL, env.InfluxOrg, name)
	}
	return cfg
}

// createBucket creates an InfluxDB bucket (infinite retention) and returns
// a function that deletes it.
func createBucket(ctx context.Context, env serverEnv, name string) (func(context.Context) error, error) {
	cl := influxdb2.NewClient(env.InfluxURL, env.InfluxToken)
	org, err := cl.OrganizationsAPI().FindOrganizationByName(ctx, env.InfluxOrg)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("influx org %q at %s: %w", env.InfluxOrg, env.InfluxURL, err)
	}
	b, err := cl.BucketsAPI().CreateBucketWithName(ctx, org, name, domain.RetentionRule{EverySeconds: 0})
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("influx bucket %q: %w", name, err)
	}
	return func(ctx context.Context) error {
		defer cl.Close()
		if err := cl.BucketsAPI().DeleteBucket(ctx, b); err != nil {
			return fmt.Errorf("delete influx bucket %q: %w", name, err)
		}
		return nil
	}, nil
}

// deleteTopics deletes the run's Kafka topics (mode servers).
func deleteTopics(brokers []string, t schemas.KafkaTopics) error {
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		return fmt.Errorf("kafka %s: %w", brokers[0], err)
	}
	defer conn.Close()
	ctl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("kafka controller: %w", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctl.Host, strconv.Itoa(ctl.Port)))
	if err != nil {
		return fmt.Errorf("kafka controller %s:%d: %w", ctl.Host, ctl.Port, err)
	}
	defer cc.Close()
	if err := cc.DeleteTopics(t.Readings, t.DLQ, t.Alerts, t.State); err != nil {
		return fmt.Errorf("delete topics %s*: %w", strings.TrimSuffix(t.Readings, schemas.KafkaReadings), err)
	}
	return nil
}

// proc is the running resilience binary.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc runs bin with args, its output going to logPath.
func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("binary log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM and waits up to wait, then kills.
func (p *proc) stop(wait time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(wait):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("resilience did not stop within %s of SIGTERM: killed", wait)
	}
}

// logTail returns the last n bytes of the binary's log.
func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		return "..." + string(b[len(b)-n:])
	}
	return string(b)
}

// waitReady polls http://addr/readyz until 200, the process exits or
// timeout passes.
func waitReady(ctx context.Context, p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + addr + "/readyz"
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("resilience exited before ready: %v", p.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("resilience not ready after %s (last /readyz: %s)", timeout, last)
}

// metrics is one scrape of /metrics: metric name -> label set -> value.
type metrics map[string]map[string]float64

// sum adds every series of name, skipping label sets that contain any of
// except (e.g. `outcome="unknown_station"`).
func (m metrics) sum(name string, except ...string) float64 {
	var s float64
next:
	for labels, v := range m[name] {
		for _, e := range except {
			if strings.Contains(labels, e) {
				continue next
			}
		}
		s += v
	}
	return s
}

// get is one series' value (labels as in the exposition, e.g.
// `outcome="ok"`; empty for none).
func (m metrics) get(name, labels string) float64 { return m[name][labels] }

// parseMetrics reads the Prometheus text format with a line scan: enough
// for counters and gauges (histograms' series are kept under their own
// names, e.g. x_bucket, and ignored by callers).
func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// series value [timestamp]; label values may hold spaces, so the
		// series ends at the last '}' when there are labels.
		end := strings.IndexByte(line, ' ')
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			end = i + 1
		}
		if end < 0 || end >= len(line) {
			continue
		}
		rest := strings.Fields(line[end:])
		if len(rest) == 0 {
			continue
		}
		series, val := line[:end], rest[0]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		name, labels := series, ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name, labels = series[:i], strings.TrimSuffix(series[i+1:], "}")
		}
		if m[name] == nil {
			m[name] = map[string]float64{}
		}
		m[name][labels] = v
	}
	return m, sc.Err()
}

// scrape fetches and parses http://addr/metrics.
func scrape(ctx context.Context, addr string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return parseMetrics(resp.Body)
}
