package main

// Helpers for the end-to-end tests: they run the real `resilience` binary
// (built once in TestMain) as separate processes against the real
// Mosquitto, Kafka and InfluxDB started by deployments/local/services,
// each test in a scenario of internal/testenv/harness of its own.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// binPath is the binary under test, built by TestMain.
var binPath string

// e2e is one end-to-end scenario: its own topic prefix, consumer group,
// MQTT share group, InfluxDB bucket and stations.
type e2e struct {
	t        *testing.T
	s        *harness.Scenario
	dir      string
	stations []string
	cfgPath  string
}

func newE2E(t *testing.T, nStations int) *e2e {
	t.Helper()
	env := testenv.Services(t)
	s, err := harness.New(context.Background(), harness.FromEnv(env), harness.Options{Prefix: "e2e", Name: t.Name(),
		Bin: binPath, Dir: t.TempDir(), Stations: nStations,
		StationID: func(tag string, i int) string { return fmt.Sprintf("T%s-%03d", tag, i) },
		Shape: &harness.StationSpec{Name: "test", Basin: "test", Interval: "10m",
			Sensors: []string{"water_level", "rainfall"}, Districts: 5}})
	must(t, err)
	t.Cleanup(func() {
		s.StopAll(15 * time.Second)
		if t.Failed() {
			for _, p := range s.Procs() {
				t.Logf("--- %s log (%s) ---\n%s", p.Name, p.Log, p.LogTail(6000))
			}
		}
		// Drops the collectors' persistent sessions (the broker would queue
		// every later reading for them), the bucket and the topics.
		if err := s.Close(); err != nil {
			t.Log(err)
		}
	})
	return &e2e{t: t, s: s, dir: s.Dir, stations: s.Stations}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := harness.FreeAddr()
	must(t, err)
	return addr
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// writeConfig writes the config every process of the scenario uses.
func (e *e2e) writeConfig() {
	path, err := e.s.WriteConfig("resilience", harness.Config{InfluxTimeout: 2 * time.Second})
	must(e.t, err)
	e.cfgPath = path
}

// start runs `resilience <mode>` and waits until it is ready; it is
// stopped at the end of the test. Processes of one mode share a data dir.
func (e *e2e) start(mode string) *harness.Proc {
	e.t.Helper()
	p, err := e.s.Start(context.Background(), mode, mode, e.cfgPath)
	must(e.t, err)
	return p
}

// series builds perStation readings for every station, one every 10 s
// ending now (so no station looks offline). level(station index, seq) gives
// the water level.
func (e *e2e) series(perStation int, level func(i int, seq uint64) float64) []harness.Message {
	const step = 10 * time.Second
	start := time.Now().Add(-time.Duration(perStation) * step).Truncate(time.Second)
	out := make([]harness.Message, 0, perStation*len(e.stations))
	for s := 0; s < perStation; s++ {
		for i, id := range e.stations {
			seq := uint64(s + 1)
			out = append(out, harness.Message{Station: id, Seq: seq, TS: start.Add(time.Duration(s) * step), Level: level(i, seq)})
		}
	}
	return out
}

// publish sends msgs at QoS 1 through the broker from `clients`
// connections (a station always from the same one, so its readings reach
// the broker in order, as from a device), waiting for every PUBACK.
func (e *e2e) publish(ctx context.Context, msgs []harness.Message, clients int) {
	e.t.Helper()
	e.publishWith(ctx, harness.PublishConfig{URL: e.s.Servers.MQTTURL, ClientID: e.s.ID, Clients: clients, Inflight: 100}, msgs)
}

// publishRaw publishes (topic, payload) pairs in order from one
// connection, one at a time.
func (e *e2e) publishRaw(msgs []struct{ topic, payload string }) {
	e.t.Helper()
	raw := make([]harness.Message, len(msgs))
	for i, m := range msgs {
		raw[i] = harness.Message{Topic: m.topic, Payload: []byte(m.payload)}
	}
	e.publishWith(context.Background(), harness.PublishConfig{URL: e.s.Servers.MQTTURL, ClientID: e.s.ID + "-raw", Inflight: 1}, raw)
}

func (e *e2e) publishWith(ctx context.Context, cfg harness.PublishConfig, msgs []harness.Message) {
	e.t.Helper()
	res, err := harness.Publish(ctx, cfg, msgs)
	if err != nil || res.Acked != len(msgs) {
		e.t.Fatalf("publish: %d of %d acknowledged (%d errors, first %v): %v", res.Acked, len(msgs), res.Errors, res.FirstErr, err)
	}
}

// waitInflux waits until the bucket holds want points and returns, per
// station, how many points each seq has.
func (e *e2e) waitInflux(want int, timeout time.Duration) map[string]map[uint64]int {
	e.t.Helper()
	var got map[string]map[uint64]int
	n := 0
	err := harness.WaitFor(context.Background(), fmt.Sprintf("InfluxDB has %d points", want), timeout, time.Second,
		func(ctx context.Context) (bool, error) {
			var err error
			got, n, err = harness.InfluxSeqs(ctx, e.s.Servers, e.s.ID)
			return err == nil && n >= want, err
		})
	if err != nil {
		e.t.Fatalf("InfluxDB has %d of %d points: %v", n, want, err)
	}
	return got
}

// assertExactlyOnce checks every station has seq 1..perStation exactly once.
func (e *e2e) assertExactlyOnce(got map[string]map[uint64]int, perStation int) {
	e.t.Helper()
	bad := 0
	for _, st := range e.stations {
		for seq := uint64(1); seq <= uint64(perStation); seq++ {
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

// alertEvents reads every event of the scenario's alerts topic (a replayed
// event as often as it is there).
func (e *e2e) alertEvents(ctx context.Context) []schemas.AlertEvent {
	e.t.Helper()
	ms, err := harness.ScanTopic(ctx, e.s.Servers.KafkaBrokers, e.s.Topics.Alerts)
	must(e.t, err)
	out := make([]schemas.AlertEvent, 0, len(ms))
	for _, m := range ms {
		var ev schemas.AlertEvent
		must(e.t, json.Unmarshal(m.Value, &ev))
		out = append(out, ev)
	}
	return out
}

// dlqReasons waits until the scenario's dead-letter topic holds want
// messages and returns them: reason -> payloads.
func (e *e2e) dlqReasons(ctx context.Context, want int) map[schemas.Reason][]schemas.DeadLetter {
	e.t.Helper()
	var ms [][]byte
	err := harness.WaitFor(ctx, fmt.Sprintf("%d dead letters", want), 2*time.Minute, 200*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			got, err := harness.ScanTopic(ctx, e.s.Servers.KafkaBrokers, e.s.Topics.DLQ)
			ms = ms[:0]
			for _, m := range got {
				ms = append(ms, m.Value)
			}
			return err == nil && len(ms) >= want, err
		})
	if err != nil {
		e.t.Fatalf("dead letters: got %d of %d: %v", len(ms), want, err)
	}
	out := map[schemas.Reason][]schemas.DeadLetter{}
	for _, v := range ms {
		var dl schemas.DeadLetter
		must(e.t, json.Unmarshal(v, &dl))
		out[dl.Reason] = append(out[dl.Reason], dl)
	}
	return out
}

// carries reports whether dead letter dl carries payload: the bytes
// themselves, or (over schemas.MaxDeadLetterPayload) their prefix with the
// whole payload's size and SHA-256.
func carries(dl schemas.DeadLetter, payload string) bool {
	if !dl.PayloadTruncated {
		return string(dl.Payload) == payload
	}
	sum := sha256.Sum256([]byte(payload))
	return len(dl.Payload) == schemas.MaxDeadLetterPayload && strings.HasPrefix(payload, string(dl.Payload)) &&
		dl.PayloadSize == len(payload) && dl.PayloadSHA256 == hex.EncodeToString(sum[:])
}
