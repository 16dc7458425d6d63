package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// bench is one run's shared setup.
type bench struct {
	o        options
	srv      harness.Servers
	dir      string
	name     string // unique run name: topic prefixes, groups, buckets, client ids
	bin      string // resilience
	telegraf string
	ids      []string
	msgs     []harness.Message
	logf     func(string, ...any)
	// cleanups run at the end, last first.
	cleanups []func()
	sessions []string
}

// run does the whole benchmark; the report is returned as far as it got.
func run(ctx context.Context, o options, logw io.Writer) (*report, error) {
	b := &bench{o: o, logf: func(f string, a ...any) { fmt.Fprintf(logw, "bench: "+f+"\n", a...) }}
	rep := &report{opts: o, telegrafVersion: telegrafVersion}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	rep.cpuBefore = takeSnapshot()
	rep.startedAt = time.Now()
	err := b.drains(ctx, rep)
	rep.cpuAfter = takeSnapshot()
	rep.endedAt = time.Now()
	if err != nil {
		return rep, err
	}
	if !o.SkipE2E {
		rep.e2eBefore, rep.e2eStart = takeSnapshot(), time.Now()
		err := b.e2e(ctx, rep)
		rep.e2eAfter, rep.e2eEnd = takeSnapshot(), time.Now()
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// drains runs the backlog drains of both hops.
func (b *bench) drains(ctx context.Context, rep *report) error {
	var err error
	if rep.paho, err = b.hop1Paho(ctx); err != nil {
		return err
	}
	if !b.o.SkipTelegraf {
		if rep.tgCollect, err = b.hop1Telegraf(ctx); err != nil {
			return err
		}
	}
	if rep.collect1, err = b.hop1Resilience(ctx, "r1", 1); err != nil {
		return err
	}
	if rep.collect2, err = b.hop1Resilience(ctx, "r2", 2); err != nil {
		return err
	}
	readings := schemas.Topics(b.name + ".r1.").Readings
	want, err := b.topicCount(ctx, readings)
	if err != nil {
		return err
	}
	proxy, err := newCountProxy(b.srv.InfluxURL, "reading", b.name+"-tg", b.name+"-proc")
	if err != nil {
		return err
	}
	defer proxy.Close()
	if !b.o.SkipTelegraf {
		if rep.tgProcess, err = b.hop2Telegraf(ctx, proxy, readings, want); err != nil {
			return err
		}
	}
	if rep.process, err = b.hop2Resilience(ctx, proxy, want); err != nil {
		return err
	}
	rep.bytes, err = b.processorBytes(ctx)
	return err
}

// setup loads the servers, builds the binaries and writes the registry.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.srv, err = harness.LoadServers(os.Getenv); err != nil {
		return fmt.Errorf("the real servers (load .cache/services/env): %w", err)
	}
	release, err := lockServers(os.TempDir(), b.srv.MQTTURL)
	if err != nil {
		return err
	}
	b.cleanups = append(b.cleanups, release)
	if b.dir, err = os.MkdirTemp("", "resilience-bench-"); err != nil {
		return err
	}
	if b.o.Keep {
		b.logf("keeping %s", b.dir)
	} else {
		dir := b.dir
		b.cleanups = append(b.cleanups, func() { os.RemoveAll(dir) })
	}
	if b.name, err = harness.UniqueName("bench"); err != nil {
		return err
	}
	if b.bin = b.o.Resilience; b.bin == "" {
		b.logf("run %s: building ./cmd/resilience", b.name)
		if b.bin, err = harness.BuildWith(ctx, b.o.Go, b.dir); err != nil {
			return fmt.Errorf("build resilience: %w", err)
		}
	}
	if !b.o.SkipTelegraf {
		if b.telegraf, err = b.buildTelegraf(ctx); err != nil {
			return err
		}
	}
	b.ids = make([]string, b.o.Stations)
	for i := range b.ids {
		b.ids[i] = fmt.Sprintf("BN-%05d", i+1)
	}
	reg := harness.StationsYAML(b.ids, harness.StationSpec{Name: "bench", Basin: "bench", Interval: "10m",
		Sensors: []string{string(schemas.WaterLevel)}, Districts: 8})
	if err := os.WriteFile(filepath.Join(b.dir, "stations.yaml"), []byte(reg), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "influx-token"), []byte(b.srv.InfluxToken), 0o600); err != nil {
		return err
	}
	b.msgs = backlog(b.ids, b.o.Readings, harness.Pattern{Cycle: 20, High: 3}, time.Now())
	b.cleanups = append(b.cleanups, func() { b.dropSessions() })
	return nil
}

// telegrafVersion is the Telegraf release the script builds.
const telegrafVersion = "1.37.2"

// buildTelegraf runs the build script (which reuses a cached binary) and
// returns the binary's path, or returns -telegraf.
func (b *bench) buildTelegraf(ctx context.Context) (string, error) {
	if b.o.Telegraf != "" {
		return b.o.Telegraf, nil
	}
	script := filepath.Join(b.o.TelegrafDir, "build-telegraf.sh")
	b.logf("telegraf: %s (builds once into the cache, then reuses it)", script)
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "TELEGRAF_VERSION="+telegrafVersion, "GO="+b.o.Go)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build telegraf (%s): %w", script, err)
	}
	bin := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(bin, '\n'); i >= 0 {
		bin = bin[i+1:]
	}
	return bin, nil
}

// backlog is n v1 readings spread over ids, seq 1, 2, ... per station,
// interleaved (every station's seq 1, then every station's seq 2, ...)
// with levels from pat. A station's readings are one second apart, the
// last at end: distinct timestamps, so that no InfluxDB point overwrites
// another (a backlog published at once would give a station several
// readings in one millisecond).
func backlog(ids []string, n int, pat harness.Pattern, end time.Time) []harness.Message {
	perStation := uint64((n + len(ids) - 1) / len(ids))
	end = end.Truncate(time.Second)
	msgs := make([]harness.Message, 0, n)
	for seq := uint64(1); len(msgs) < n; seq++ {
		ts := end.Add(-time.Duration(perStation-seq) * time.Second)
		for i, id := range ids {
			if len(msgs) == n {
				break
			}
			msgs = append(msgs, harness.Message{Station: id, Seq: seq, TS: ts, Level: pat.Level(i, seq)})
		}
	}
	return msgs
}

// publishBacklog publishes the backlog for the hop and checks that the
// broker acknowledged all of it.
func (b *bench) publishBacklog(ctx context.Context, hop string) error {
	b.logf("%s: publishing %d readings from %d stations while the drainer is offline", hop, len(b.msgs), len(b.ids))
	res, err := harness.Publish(ctx, harness.PublishConfig{URL: b.srv.MQTTURL, ClientID: b.name + "-" + strings.ReplaceAll(hop, " ", ""),
		Clients: b.o.PubClients, Inflight: 1000}, b.msgs)
	if err != nil {
		return fmt.Errorf("%s: publish the backlog: %w", hop, err)
	}
	if res.Acked != len(b.msgs) {
		return fmt.Errorf("%s: publish the backlog: %d of %d acknowledged (first error: %v)", hop, res.Acked, len(b.msgs), res.FirstErr)
	}
	b.logf("%s: published in %s", hop, res.LastAck.Sub(res.First).Round(time.Millisecond))
	return nil
}

// register creates a persistent session to be dropped at the end.
func (b *bench) register(hop, id, filter string) error {
	b.sessions = append(b.sessions, id)
	if err := registerSession(b.srv.MQTTURL, id, filter); err != nil {
		return fmt.Errorf("%s: %w", hop, err)
	}
	return nil
}

// dropSessions removes every session the run registered, so that the
// broker stops queueing for them.
func (b *bench) dropSessions() {
	for _, id := range b.sessions {
		if err := testenv.DropMQTTSession(b.srv.MQTTURL, id); err != nil {
			b.logf("cleanup: %v", err)
		}
	}
	b.sessions = nil
}

func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

// hop1Paho drains the backlog with the bare paho subscriber.
func (b *bench) hop1Paho(ctx context.Context) (drain, error) {
	const hop = "MQTT->Kafka paho"
	id := b.name + "-paho"
	filter := fmt.Sprintf(schemas.TopicReadingsFmt, "+")
	if err := b.register(hop, id, filter); err != nil {
		return drain{}, err
	}
	if err := b.publishBacklog(ctx, hop); err != nil {
		return drain{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return drain{}, err
	}
	b.logf("%s: draining", hop)
	cctx, cancel := context.WithTimeout(ctx, b.o.Timeout+30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(cctx, self, pahoDrainCmd, "-url", b.srv.MQTTURL, "-client-id", id, "-filter", filter,
		"-n", fmt.Sprint(len(b.msgs)), "-timeout", b.o.Timeout.String())
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return drain{}, fmt.Errorf("%s: %w: %s", hop, err, strings.TrimSpace(errb.String()))
	}
	var pr pahoReport
	if err := json.Unmarshal(out.Bytes(), &pr); err != nil {
		return drain{}, fmt.Errorf("%s: report %q: %w", hop, out.String(), err)
	}
	d := pr.drain()
	b.logf("%s: %.0f msg/s, %.3f CPU-s/10k", hop, d.Rate(), d.CPUPer10k())
	return d, b.dropSession(id)
}

// dropSession drops one session now (a drained one would queue the next
// hop's backlog).
func (b *bench) dropSession(id string) error {
	if err := testenv.DropMQTTSession(b.srv.MQTTURL, id); err != nil {
		return err
	}
	for i, s := range b.sessions {
		if s == id {
			b.sessions = append(b.sessions[:i], b.sessions[i+1:]...)
			break
		}
	}
	return nil
}

// newTopic creates a run topic (deleted at the end).
func (b *bench) newTopic(ctx context.Context, topic string) error {
	if err := createTopic(ctx, b.srv.KafkaBrokers, topic, b.o.Partitions); err != nil {
		return err
	}
	if !b.o.Keep {
		b.cleanups = append(b.cleanups, func() { b.deleteTopics(topic) })
	}
	return nil
}

// deleteTopics deletes topics, logging a failure.
func (b *bench) deleteTopics(topics ...string) {
	cl, done := kafkax.NewClient(b.srv.KafkaBrokers, nil)
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err == nil {
		for t, terr := range res.Errors {
			if terr != nil && !strings.Contains(terr.Error(), "Unknown Topic") {
				err = fmt.Errorf("topic %s: %w", t, terr)
			}
		}
	}
	if err != nil {
		b.logf("cleanup: delete topics %v: %v", topics, err)
	}
}

// topicCount is the number of records in topic.
func (b *bench) topicCount(ctx context.Context, topic string) (int64, error) {
	oc, err := newOffsetCounter(ctx, b.srv.KafkaBrokers, topic)
	if err != nil {
		return 0, err
	}
	defer oc.Close()
	return oc.Count(ctx)
}

// trackKafka tracks a drainer that writes to topic.
func (b *bench) trackKafka(ctx context.Context, hop, topic string, exited <-chan struct{}, pids ...int) (drain, error) {
	oc, err := newOffsetCounter(ctx, b.srv.KafkaBrokers, topic)
	if err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	defer oc.Close()
	return track(ctx, trackSpec{Hop: hop, Want: int64(len(b.msgs)), Count: oc.Count,
		CPU: func() (float64, error) { return cpuOf(pids...) }, Servers: b.serverCPU(), Exited: exited, Timeout: b.o.Timeout, Stall: b.o.Stall})
}

// telegrafConfig fills a template of the Telegraf directory.
func (b *bench) telegrafConfig(tmpl, out string, fields map[string]any) (string, error) {
	src := filepath.Join(b.o.TelegrafDir, tmpl)
	t, err := template.New(tmpl).Option("missingkey=error").ParseFiles(src)
	if err != nil {
		return "", fmt.Errorf("telegraf config %s: %w", src, err)
	}
	for k, v := range map[string]any{"BufferLimit": 100000, "FlushInterval": "100ms", "MaxUndelivered": b.o.TelegrafUndelivered} {
		if _, ok := fields[k]; !ok {
			fields[k] = v
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, fields); err != nil {
		return "", fmt.Errorf("telegraf config %s: %w", src, err)
	}
	path := filepath.Join(b.dir, out)
	return path, os.WriteFile(path, buf.Bytes(), 0o600)
}

// startTelegraf runs Telegraf with cfg (the InfluxDB token in its
// environment, never in the file).
func (b *bench) startTelegraf(name, cfg string) (*proc, error) {
	return startProc(name, filepath.Join(b.dir, name+".log"), []string{"BENCH_INFLUX_TOKEN=" + b.srv.InfluxToken},
		b.telegraf, "--config", cfg)
}

// stopDrainer stops a drainer after its drain; a failure to stop cleanly
// is reported with the hop, with the log's tail.
func stopDrainer(hop string, stop func(time.Duration) error, tail func(int) string) error {
	if err := stop(30 * time.Second); err != nil {
		return fmt.Errorf("%s: %w\n%s", hop, err, tail(3000))
	}
	return nil
}

// hop1Telegraf drains the backlog with Telegraf mqtt_consumer -> kafka.
func (b *bench) hop1Telegraf(ctx context.Context) (drain, error) {
	const hop = "MQTT->Kafka telegraf"
	id, topic := b.name+"-telegraf", b.name+".tg.readings"
	if err := b.newTopic(ctx, topic); err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	if err := b.register(hop, id, fmt.Sprintf(schemas.TopicReadingsFmt, "+")); err != nil {
		return drain{}, err
	}
	if err := b.publishBacklog(ctx, hop); err != nil {
		return drain{}, err
	}
	cfg, err := b.telegrafConfig("mqtt-to-kafka.conf.tmpl", "telegraf-hop1.conf", map[string]any{
		"MQTTURL": b.srv.MQTTURL, "ClientID": id, "KafkaBroker": b.srv.KafkaBrokers[0], "Topic": topic, "BatchSize": b.o.TelegrafBatch1})
	if err != nil {
		return drain{}, err
	}
	b.logf("%s: draining", hop)
	p, err := b.startTelegraf("telegraf-hop1", cfg)
	if err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	d, err := b.trackKafka(ctx, hop, topic, p.Done(), p.Pid())
	serr := stopDrainer(hop, p.Stop, p.LogTail)
	if err != nil {
		return d, fmt.Errorf("%w\n--- telegraf log ---\n%s", err, p.LogTail(3000))
	}
	if serr != nil {
		return d, serr
	}
	b.logf("%s: %.0f msg/s, %.3f CPU-s/10k", hop, d.Rate(), d.CPUPer10k())
	return d, b.dropSession(id)
}

// resilienceConfig is the config of `resilience ingest|process` for one
// hop: the run's topics under prefix, the share group, the processor's
// group and bucket.
func (b *bench) resilienceConfig(file, prefix, influxURL, bucket string) (string, error) {
	cfg := fmt.Sprintf(`stations_file: stations.yaml
data_dir: data-%s
kafka:
  brokers: [%s]
  topic_prefix: %q
  partitions: %d
ingest:
  mqtt_url: %s
  share_group: %s
processor:
  group: %s-processor
`, strings.TrimSuffix(file, ".yaml"), strings.Join(b.srv.KafkaBrokers, ", "), prefix, b.o.Partitions, b.srv.MQTTURL,
		strings.TrimSuffix(prefix, "."), strings.TrimSuffix(prefix, "."))
	if influxURL != "" {
		cfg += fmt.Sprintf("influx:\n  url: %s\n  org: %s\n  bucket: %s\n  token_file: influx-token\n", influxURL, b.srv.InfluxOrg, bucket)
	}
	path := filepath.Join(b.dir, file)
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// hop1Resilience drains the backlog with n `resilience ingest` collectors
// in one $share group, writing to the topics of prefix <run>.<tag>.
func (b *bench) hop1Resilience(ctx context.Context, tag string, n int) (drain, error) {
	hop := fmt.Sprintf("MQTT->Kafka resilience x%d", n)
	prefix := b.name + "." + tag + "."
	topics := schemas.Topics(prefix)
	if err := b.newTopic(ctx, topics.Readings); err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	if !b.o.Keep {
		b.cleanups = append(b.cleanups, func() { b.deleteTopics(topics.DLQ, topics.Alerts, topics.State, topics.Actions) })
	}
	filter := "$share/" + strings.TrimSuffix(prefix, ".") + "/" + fmt.Sprintf(schemas.TopicReadingsFmt, "+")
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%s-c%d", b.name, tag, i+1)
		if err := b.register(hop, ids[i], filter); err != nil {
			return drain{}, err
		}
	}
	if err := b.publishBacklog(ctx, hop); err != nil {
		return drain{}, err
	}
	b.logf("%s: draining", hop)
	var procs []*harness.Proc
	var pids []int
	exited := make(chan struct{})
	var exitOnce sync.Once
	stopAll := func() error {
		var errs []string
		for _, p := range procs {
			if err := p.Stop(30 * time.Second); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v\n%s", p.Name, err, p.LogTail(2000)))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s: stop: %s", hop, strings.Join(errs, "\n"))
		}
		return nil
	}
	for i, id := range ids {
		// A config (so a data directory) of its own per collector.
		cfg, err := b.resilienceConfig(fmt.Sprintf("ingest-%s-%d.yaml", tag, i+1), prefix, "", "")
		if err != nil {
			_ = stopAll()
			return drain{}, err
		}
		addr, err := harness.FreeAddr()
		if err != nil {
			_ = stopAll()
			return drain{}, err
		}
		p, err := harness.StartProc(harness.ProcSpec{Bin: b.bin, Name: fmt.Sprintf("ingest-%s-%d", tag, i+1), Mode: "ingest",
			Config: cfg, HTTP: addr, Log: filepath.Join(b.dir, fmt.Sprintf("ingest-%s-%d.log", tag, i+1)),
			Args: []string{"--ingest.client-id", id}})
		if err != nil {
			_ = stopAll()
			return drain{}, fmt.Errorf("%s: %w", hop, err)
		}
		procs, pids = append(procs, p), append(pids, p.Pid())
		go func() {
			select {
			case <-p.Done():
				exitOnce.Do(func() { close(exited) })
			case <-exited:
			}
		}()
	}
	d, err := b.trackKafka(ctx, hop, topics.Readings, exited, pids...)
	serr := stopAll()
	if err != nil {
		for _, p := range procs {
			err = fmt.Errorf("%w\n--- %s log ---\n%s", err, p.Name, p.LogTail(2000))
		}
		return d, err
	}
	if serr != nil {
		return d, serr
	}
	b.logf("%s: %.0f msg/s, %.3f CPU-s/10k", hop, d.Rate(), d.CPUPer10k())
	for _, id := range ids {
		if err := b.dropSession(id); err != nil {
			return d, err
		}
	}
	return d, nil
}

// newBucket creates a run bucket (deleted at the end).
func (b *bench) newBucket(ctx context.Context, name string) error {
	bk, err := harness.CreateBucket(ctx, b.srv, name)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", name, err)
	}
	if !b.o.Keep {
		b.cleanups = append(b.cleanups, func() {
			if err := harness.DeleteBucket(context.Background(), b.srv, bk); err != nil {
				b.logf("cleanup: %v", err)
			}
		})
	}
	return nil
}

// trackInflux tracks a drainer that writes bucket through the proxy.
func (b *bench) trackInflux(ctx context.Context, hop string, proxy *countProxy, bucket string, want int64, exited <-chan struct{}, pid int) (drain, error) {
	return track(ctx, trackSpec{Hop: hop, Want: want,
		Count: func(context.Context) (int64, error) { return proxy.Count(bucket), nil },
		CPU:   func() (float64, error) { return cpuOf(pid) }, Servers: b.serverCPU(), Exited: exited, Timeout: b.o.Timeout, Stall: b.o.Stall})
}

// serverCPU returns a reader of the servers' CPU seconds (serverNames;
// -1 for a server whose pid or /proc entry cannot be read).
func (b *bench) serverCPU() func() [3]float64 {
	var pids [3]int
	for i, name := range serverNames {
		if pid, err := b.srv.Pid(name); err == nil {
			pids[i] = pid
		}
	}
	return func() [3]float64 {
		var out [3]float64
		for i, pid := range pids {
			out[i] = -1
			if pid > 0 {
				if c, err := cpuOf(pid); err == nil {
					out[i] = c
				}
			}
		}
		return out
	}
}

// hop2Telegraf drains the collector's readings topic into InfluxDB with
// Telegraf kafka_consumer -> influxdb_v2.
func (b *bench) hop2Telegraf(ctx context.Context, proxy *countProxy, topic string, want int64) (drain, error) {
	const hop = "Kafka->InfluxDB telegraf"
	bucket := b.name + "-tg"
	if err := b.newBucket(ctx, bucket); err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	cfg, err := b.telegrafConfig("kafka-to-influx.conf.tmpl", "telegraf-hop2.conf", map[string]any{
		"KafkaBroker": b.srv.KafkaBrokers[0], "Topic": topic, "Group": b.name + "-telegraf",
		"InfluxURL": proxy.URL(), "InfluxOrg": b.srv.InfluxOrg, "Bucket": bucket, "BatchSize": b.o.TelegrafBatch2})
	if err != nil {
		return drain{}, err
	}
	b.logf("%s: draining %d records", hop, want)
	p, err := b.startTelegraf("telegraf-hop2", cfg)
	if err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	d, err := b.trackInflux(ctx, hop, proxy, bucket, want, p.Done(), p.Pid())
	serr := stopDrainer(hop, p.Stop, p.LogTail)
	if err != nil {
		return d, fmt.Errorf("%w\n--- telegraf log ---\n%s", err, p.LogTail(3000))
	}
	if serr != nil {
		return d, serr
	}
	b.logf("%s: %.0f points/s, %.3f CPU-s/10k", hop, d.Rate(), d.CPUPer10k())
	return d, nil
}

// hop2Resilience drains the same topic with `resilience process`.
func (b *bench) hop2Resilience(ctx context.Context, proxy *countProxy, want int64) (drain, error) {
	const hop = "Kafka->InfluxDB resilience"
	bucket := b.name + "-proc"
	if err := b.newBucket(ctx, bucket); err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	cfg, err := b.resilienceConfig("process.yaml", b.name+".r1.", proxy.URL(), bucket)
	if err != nil {
		return drain{}, err
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return drain{}, err
	}
	b.logf("%s: draining %d records", hop, want)
	p, err := harness.StartProc(harness.ProcSpec{Bin: b.bin, Name: "process", Mode: "process", Config: cfg, HTTP: addr,
		Log: filepath.Join(b.dir, "process.log")})
	if err != nil {
		return drain{}, fmt.Errorf("%s: %w", hop, err)
	}
	d, err := b.trackInflux(ctx, hop, proxy, bucket, want, p.Done(), p.Pid())
	serr := stopDrainer(hop, p.Stop, p.LogTail)
	if err != nil {
		return d, fmt.Errorf("%w\n--- process log ---\n%s", err, p.LogTail(3000))
	}
	if serr != nil {
		return d, serr
	}
	b.logf("%s: %.0f points/s, %.3f CPU-s/10k", hop, d.Rate(), d.CPUPer10k())
	return d, nil
}

// kafkaBytes is what the processor wrote to Kafka against the readings
// it read.
type kafkaBytes struct {
	Readings, ReadingBytes int64 // records and bytes of the readings topic
	// Topics are the bytes and records of every other topic of the run's
	// prefix (the state changelog, alerts, anything else): all written by
	// the processor, the collector having dead-lettered nothing.
	Topics []topicSize
}

// topicSize is one topic's records.
type topicSize struct {
	Topic          string
	Bytes, Records int64
}

// Written is the bytes of Topics.
func (k kafkaBytes) Written() int64 {
	var n int64
	for _, t := range k.Topics {
		n += t.Bytes
	}
	return n
}

// PerReading is the processor's bytes per reading.
func (k kafkaBytes) PerReading() float64 {
	if k.Readings == 0 {
		return 0
	}
	return float64(k.Written()) / float64(k.Readings)
}

// ReadingSize is the mean record size of a reading.
func (k kafkaBytes) ReadingSize() float64 {
	if k.Readings == 0 {
		return 0
	}
	return float64(k.ReadingBytes) / float64(k.Readings)
}

// processorBytes sums the records of the readings topic and of every
// other topic under the processor's prefix.
func (b *bench) processorBytes(ctx context.Context) (kafkaBytes, error) {
	prefix := b.name + ".r1."
	readings := schemas.Topics(prefix).Readings
	cl, done := kafkax.NewClient(b.srv.KafkaBrokers, nil)
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
	done()
	if err != nil {
		return kafkaBytes{}, fmt.Errorf("kafka bytes: topics: %w", err)
	}
	var k kafkaBytes
	if k.ReadingBytes, k.Readings, err = topicBytes(ctx, b.srv.KafkaBrokers, readings); err != nil {
		return k, fmt.Errorf("kafka bytes: %w", err)
	}
	for _, t := range md.Topics {
		if !strings.HasPrefix(t.Name, prefix) || t.Name == readings {
			continue
		}
		ts := topicSize{Topic: strings.TrimPrefix(t.Name, prefix)}
		if ts.Bytes, ts.Records, err = topicBytes(ctx, b.srv.KafkaBrokers, t.Name); err != nil {
			return k, fmt.Errorf("kafka bytes: %w", err)
		}
		if ts.Records > 0 {
			k.Topics = append(k.Topics, ts)
		}
	}
	sort.Slice(k.Topics, func(i, j int) bool { return k.Topics[i].Topic < k.Topics[j].Topic })
	return k, nil
}
