package main

// Helpers for the end-to-end tests: they run the real `resilience` binary
// (built once in TestMain) as separate processes against the real
// Mosquitto, Kafka and InfluxDB started by deployments/local/services.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/domain"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/schemas"
)

// binPath is the binary under test, built by TestMain.
var binPath string

// e2e is one end-to-end scenario: its own topic prefix, consumer group,
// MQTT share group, InfluxDB bucket and stations.
type e2e struct {
	t        *testing.T
	env      testenv.Env
	dir      string
	prefix   string // kafka topic prefix
	bucket   string
	stations []string
	cfgPath  string
	http     map[string]string // mode -> listen addr
	topics   schemas.KafkaTopics
}

func newE2E(t *testing.T, nStations int) *e2e {
	t.Helper()
	env := testenv.Services(t)
	name := testenv.UniqueName(t, "e2e")
	e := &e2e{t: t, env: env, dir: t.TempDir(), prefix: name + ".", bucket: name, http: map[string]string{}}
	e.topics = schemas.Topics(e.prefix)
	// Station ids: a short unique tag keeps them distinct across runs.
	tag := strings.ToUpper(name[len(name)-8:])
	var sb strings.Builder
	sb.WriteString("stations:\n")
	for i := 0; i < nStations; i++ {
		id := fmt.Sprintf("T%s-%03d", tag, i)
		e.stations = append(e.stations, id)
		fmt.Fprintf(&sb, "  - id: %s\n    name: test %d\n    basin: test\n    district: d%d\n    lat: 16.0\n    lon: 108.0\n    interval: 10m\n    sensors: [water_level, rainfall]\n    alarm_levels_m: {I: 5.0, II: 5.5, III: 7.0}\n", id, i, i%5)
	}
	stationsPath := filepath.Join(e.dir, "stations.yaml")
	must(t, os.WriteFile(stationsPath, []byte(sb.String()), 0o600))
	e.createBucket()
	t.Cleanup(func() {
		// The collector's persistent session would queue every later
		// reading on this broker forever.
		if err := testenv.DropMQTTSession(env.MQTTURL, e.bucket+"-collector"); err != nil {
			t.Log(err)
		}
	})
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func (e *e2e) createBucket() {
	cl := influxdb2.NewClient(e.env.InfluxURL, e.env.InfluxToken)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	org, err := cl.OrganizationsAPI().FindOrganizationByName(ctx, e.env.InfluxOrg)
	must(e.t, err)
	_, err = cl.BucketsAPI().CreateBucketWithName(ctx, org, e.bucket, domain.RetentionRule{EverySeconds: 0})
	must(e.t, err)
}

// writeConfig writes the config every process of the scenario uses.
func (e *e2e) writeConfig() {
	tok := filepath.Join(e.dir, "influx-token")
	must(e.t, os.WriteFile(tok, []byte(e.env.InfluxToken), 0o600))
	cfg := fmt.Sprintf(`stations_file: stations.yaml
data_dir: data
kafka:
  brokers: [%s]
  topic_prefix: %q
  partitions: 4
ingest:
  mqtt_url: %s
  client_id: %s-collector
  share_group: %s
processor:
  group: %s-processor
  tick_interval: 1s
  session_timeout: 6s
influx:
  url: %s
  org: %s
  bucket: %s
  token_file: influx-token
  timeout: 2s
  attempts: 2
`, strings.Join(e.env.KafkaBrokers, ", "), e.prefix, e.env.MQTTURL, e.bucket, e.bucket, e.bucket,
		e.env.InfluxURL, e.env.InfluxOrg, e.bucket)
	e.cfgPath = filepath.Join(e.dir, "resilience.yaml")
	must(e.t, os.WriteFile(e.cfgPath, []byte(cfg), 0o600))
}

// proc is a running `resilience` process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs `resilience <mode>`; it is killed at the end of the test.
func (e *e2e) start(mode string, extra ...string) *proc {
	e.t.Helper()
	addr := freeAddr(e.t)
	e.http[mode] = addr
	logPath := filepath.Join(e.dir, fmt.Sprintf("%s-%d.log", mode, time.Now().UnixNano()))
	f, err := os.Create(logPath)
	must(e.t, err)
	args := append([]string{mode, "--config", e.cfgPath, "--http.listen", addr}, extra...)
	cmd := exec.Command(binPath, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = os.Environ()
	must(e.t, cmd.Start())
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	e.t.Cleanup(func() {
		p.stop(syscall.SIGTERM, 15*time.Second)
		if e.t.Failed() {
			b, _ := os.ReadFile(logPath)
			e.t.Logf("--- %s log (%s) ---\n%s", mode, logPath, tail(string(b), 6000))
		}
	})
	e.waitReady(mode, p)
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stop signals the process and waits; SIGKILL if it does not exit.
func (p *proc) stop(sig syscall.Signal, wait time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(wait):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (e *e2e) waitReady(mode string, p *proc) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	url := "http://" + e.http[mode] + "/readyz"
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			e.t.Fatalf("resilience %s exited before ready: %v\n%s", mode, p.err, tail(string(b), 4000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.log)
	e.t.Fatalf("resilience %s not ready after 90s\n%s", mode, tail(string(b), 4000))
}

// reading is one device message to publish.
type reading struct {
	station string
	seq     uint64
	ts      time.Time
	level   float64
}

func (r reading) payload() []byte {
	b, _ := json.Marshal(map[string]any{"v": 1, "station": r.station, "seq": r.seq, "ts": r.ts.Format(time.RFC3339Nano),
		"readings": []map[string]any{{"sensor": "water_level", "value": r.level, "unit": "m"}}})
	return b
}

// series builds perStation readings for every station, one every 10 s
// ending now (so no station looks offline). level(station index, seq) gives
// the water level.
func (e *e2e) series(perStation int, level func(i int, seq uint64) float64) []reading {
	const step = 10 * time.Second
	start := time.Now().Add(-time.Duration(perStation) * step).Truncate(time.Second)
	out := make([]reading, 0, perStation*len(e.stations))
	for s := 0; s < perStation; s++ {
		for i, id := range e.stations {
			seq := uint64(s + 1)
			out = append(out, reading{station: id, seq: seq, ts: start.Add(time.Duration(s) * step), level: level(i, seq)})
		}
	}
	return out
}

func clientOf(station string, clients int) int {
	h := fnv.New32a()
	h.Write([]byte(station))
	return int(h.Sum32() % uint32(clients))
}

// publish sends readings at QoS 1 through the broker from `clients`
// connections, waiting for every PUBACK. It is stopped by ctx.
func (e *e2e) publish(ctx context.Context, rs []reading, clients int) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		c := c
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := mqtt.NewClientOptions().AddBroker(e.env.MQTTURL).SetClientID(fmt.Sprintf("%s-pub-%d", e.bucket, c)).
				SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(10 * time.Second)
			cl := mqtt.NewClient(o)
			if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				errs <- fmt.Errorf("publisher %d connect: %v", c, tok.Error())
				return
			}
			defer cl.Disconnect(250)
			var pending []mqtt.Token
			for _, r := range rs {
				// A station always publishes from the same connection, so
				// its readings reach the broker in order, as from a device.
				if clientOf(r.station, clients) != c {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				pending = append(pending, cl.Publish(fmt.Sprintf(schemas.TopicReadingsFmt, r.station), 1, false, r.payload()))
				if len(pending) >= 100 {
					for _, tok := range pending {
						if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
							errs <- fmt.Errorf("publisher %d: puback: %v", c, tok.Error())
							return
						}
					}
					pending = pending[:0]
				}
			}
			for _, tok := range pending {
				if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
					errs <- fmt.Errorf("publisher %d: puback: %v", c, tok.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

// influxSeqs returns, per station, how many points each seq has in the
// scenario's bucket (measurement reading, sensor water_level).
func (e *e2e) influxSeqs(ctx context.Context) (map[string]map[int64]int, int, error) {
	cl := influxdb2.NewClient(e.env.InfluxURL, e.env.InfluxToken)
	defer cl.Close()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: -30d, stop: 1h)
  |> filter(fn: (r) => r._measurement == "reading" and r.sensor == "water_level" and r._field == "seq")
  |> group()
  |> keep(columns: ["station", "_value"])`, e.bucket)
	res, err := cl.QueryAPI(e.env.InfluxOrg).Query(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]map[int64]int{}
	n := 0
	for res.Next() {
		rec := res.Record()
		st, _ := rec.ValueByKey("station").(string)
		seq, _ := rec.Value().(int64)
		if out[st] == nil {
			out[st] = map[int64]int{}
		}
		out[st][seq]++
		n++
	}
	return out, n, res.Err()
}

// waitInflux waits until the bucket holds want water_level points.
func (e *e2e) waitInflux(want int, timeout time.Duration) map[string]map[int64]int {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var got map[string]map[int64]int
	var n int
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, n, err = e.influxSeqs(ctx)
		cancel()
		if err == nil && n >= want {
			return got
		}
		time.Sleep(time.Second)
	}
	e.t.Fatalf("InfluxDB has %d of %d points after %s (last error: %v)", n, want, timeout, err)
	return nil
}

// assertExactlyOnce checks every station has seq 1..perStation exactly once.
func (e *e2e) assertExactlyOnce(got map[string]map[int64]int, perStation int) {
	e.t.Helper()
	bad := 0
	for _, st := range e.stations {
		for seq := int64(1); seq <= int64(perStation); seq++ {
			if c := got[st][seq]; c != 1 {
				if bad < 10 {
					e.t.Errorf("station %s seq %d: %d points, want exactly 1", st, seq, c)
				}
				bad++
			}
		}
		if len(got[st]) != perStation {
			e.t.Errorf("station %s: %d distinct seqs, want %d", st, len(got[st]), perStation)
		}
	}
	if bad > 0 {
		e.t.Fatalf("%d (station, seq) pairs not exactly once", bad)
	}
}

// alertEvents reads every event of the scenario's alerts topic.
func (e *e2e) alertEvents(ctx context.Context) []schemas.AlertEvent {
	e.t.Helper()
	var out []schemas.AlertEvent
	for p := 0; p < 4; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", e.env.KafkaBrokers[0], e.topics.Alerts, p)
		must(e.t, err)
		first, last, err := conn.ReadOffsets()
		conn.Close()
		must(e.t, err)
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.env.KafkaBrokers, Topic: e.topics.Alerts, Partition: p, MaxWait: 100 * time.Millisecond})
		must(e.t, r.SetOffset(first))
		for {
			m, err := r.FetchMessage(ctx)
			must(e.t, err)
			var ev schemas.AlertEvent
			must(e.t, json.Unmarshal(m.Value, &ev))
			out = append(out, ev)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// dlqReasons reads the scenario's dead-letter topic: reason -> payloads.
func (e *e2e) dlqReasons(ctx context.Context, want int) map[schemas.Reason][]string {
	e.t.Helper()
	out := map[schemas.Reason][]string{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.env.KafkaBrokers, Topic: e.topics.DLQ, GroupID: e.bucket + "-dlq-check",
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for n := 0; n < want; n++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			e.t.Fatalf("dead letters: got %d of %d: %v", n, want, err)
		}
		var dl schemas.DeadLetter
		must(e.t, json.Unmarshal(m.Value, &dl))
		out[dl.Reason] = append(out[dl.Reason], string(dl.Payload))
	}
	return out
}

// logLines returns the lines of a process log containing s.
func logLines(path, s string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// publishRaw publishes (topic, payload) pairs in order from one connection.
func (e *e2e) publishRaw(msgs []struct{ topic, payload string }) {
	e.t.Helper()
	o := mqtt.NewClientOptions().AddBroker(e.env.MQTTURL).SetClientID(e.bucket + "-raw").SetCleanSession(true)
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		e.t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(250)
	for _, m := range msgs {
		if tok := cl.Publish(m.topic, 1, false, []byte(m.payload)); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			e.t.Fatalf("publish %s: %v", m.topic, tok.Error())
		}
	}
}
