package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime ...
	tail := " S 1 1 1 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 1234 0 0"
	tests := []struct {
		name    string
		line    string
		pid     int
		comm    string
		cpu     float64
		wantErr bool
	}{
		{name: "plain", line: "4242 (telegraf)" + tail, pid: 4242, comm: "telegraf", cpu: 3.25},
		{name: "spaces and parens in comm", line: "7 (a b) (c))" + tail, pid: 7, comm: "a b) (c)", cpu: 3.25},
		{name: "zero", line: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0", pid: 1, comm: "init", cpu: 0},
		{name: "no parens", line: "4242 telegraf S 1", wantErr: true},
		{name: "short", line: "4242 (x) S 1 1", wantErr: true},
		{name: "bad utime", line: "4242 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0", wantErr: true},
		{name: "bad pid", line: "abc (x)" + tail, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.line)
			if tt.wantErr {
				if !errors.Is(err, errStatFormat) {
					t.Fatalf("err = %v, want errStatFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Pid != tt.pid || got.Comm != tt.comm || math.Abs(got.CPU-tt.cpu) > 1e-9 {
				t.Fatalf("got %+v, want pid %d comm %q cpu %v", got, tt.pid, tt.comm, tt.cpu)
			}
		})
	}
}

func TestReadStatSelf(t *testing.T) {
	s, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Pid != os.Getpid() || s.CPU < 0 {
		t.Fatalf("got %+v", s)
	}
	if _, err := cpuOf(os.Getpid(), os.Getpid()); err != nil {
		t.Fatal(err)
	}
	snap := takeSnapshot()
	if _, ok := snap[os.Getpid()]; !ok {
		t.Fatal("snapshot lacks this process")
	}
}

func TestDrainMath(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		d         drain
		rate, cpu float64
	}{
		{name: "10k/s at 0.5 CPU-s/10k",
			d:    drain{First: sample{At: t0, Count: 1000, CPU: 2}, Last: sample{At: t0.Add(10 * time.Second), Count: 101000, CPU: 7}},
			rate: 10000, cpu: 0.5},
		{name: "paho: from message 1",
			d:    drain{First: sample{At: t0, Count: 1, CPU: 0.1}, Last: sample{At: t0.Add(4 * time.Second), Count: 200001, CPU: 5.7}},
			rate: 50000, cpu: 0.28},
		{name: "empty", d: drain{}, rate: 0, cpu: 0},
		{name: "no span", d: drain{First: sample{At: t0, Count: 5}, Last: sample{At: t0, Count: 5}}, rate: 0, cpu: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Rate(); math.Abs(got-tt.rate) > 1e-6 {
				t.Errorf("Rate = %v, want %v", got, tt.rate)
			}
			if got := tt.d.CPUPer10k(); math.Abs(got-tt.cpu) > 1e-9 {
				t.Errorf("CPUPer10k = %v, want %v", got, tt.cpu)
			}
		})
	}
}

// TestServerCores: the drainer's and each server's CPU seconds per
// second of the drain's span, -1 where either sample could not read it.
func TestServerCores(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	d := drain{First: sample{At: t0, CPU: 1, Servers: [3]float64{10, 5, -1}},
		Last: sample{At: t0.Add(4 * time.Second), CPU: 7, Servers: [3]float64{14, 6, 3}}}
	if got := d.Cores(); got != 1.5 {
		t.Errorf("Cores = %v, want 1.5", got)
	}
	if got, want := d.ServerCores(), [3]float64{1, 0.25, -1}; got != want {
		t.Errorf("ServerCores = %v, want %v", got, want)
	}
	if got := (drain{}).ServerCores(); got != [3]float64{-1, -1, -1} {
		t.Errorf("no span: %v, want all unknown", got)
	}
}

func TestChecks(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		c    check
		want string
	}{
		{check{Got: 1.31, Op: ">=", Want: 1.3}, "PASS"},
		{check{Got: 1.3, Op: ">=", Want: 1.3}, "PASS"},
		{check{Got: 0.98, Op: ">=", Want: 1.3}, "FAIL"},
		{check{Got: 0.35, Op: "<=", Want: 0.35}, "PASS"},
		{check{Got: 0.5, Op: "<=", Want: 0.35}, "FAIL"},
		{check{Got: nan, Op: ">=", Want: 1.3}, "n/a"},
		{check{Got: math.Inf(1), Op: "<=", Want: 1}, "n/a"},
	}
	for _, tt := range tests {
		if got := tt.c.verdict(); got != tt.want {
			t.Errorf("%+v: verdict %s, want %s", tt.c, got, tt.want)
		}
		if !strings.HasSuffix(tt.c.String(), tt.want) {
			t.Errorf("%+v: String %q does not end in %s", tt.c, tt.c.String(), tt.want)
		}
	}
	if r := ratio(3, 2); r != 1.5 {
		t.Errorf("ratio(3, 2) = %v", r)
	}
	if r := ratio(3, 0); !math.IsNaN(r) {
		t.Errorf("ratio(3, 0) = %v, want NaN", r)
	}
}

// TestReportChecks builds a report like the table and checks the
// verdicts the table prints.
func TestReportChecks(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	mk := func(rate, cpu10k float64) drain {
		n := int64(200000)
		s := float64(n) / rate
		return drain{First: sample{At: t0, Count: 0}, Last: sample{At: t0.Add(time.Duration(s * float64(time.Second))), Count: n, CPU: cpu10k * float64(n) / 1e4}}
	}
	r := &report{
		tgCollect: mk(22000, 0.50), collect1: mk(21600, 0.50), collect2: mk(40000, 0.9),
		tgProcess: mk(38200, 0.13), process: mk(60000, 0.12),
		bytes: kafkaBytes{Readings: 100, ReadingBytes: 20000, Topics: []topicSize{{"alerts", 1000, 5}, {"processor.state", 30000, 10}}},
		e2e: []e2eResult{{Rate: 1000, Parsed: true, P50: 86 * time.Millisecond, P99: 485 * time.Millisecond},
			{Rate: 10000, Parsed: true, P50: 20 * time.Millisecond, P99: 200 * time.Millisecond, Slices: 10, FirstP50: 20 * time.Millisecond, LastP50: 30 * time.Millisecond},
			{Mode: "embedded", Rate: 10000, Parsed: true, Throughput: 9973, AfterLast: 81 * time.Millisecond, P50: 180 * time.Millisecond}},
	}
	want := []string{"FAIL", "FAIL", "PASS", "PASS", "PASS", "PASS", "FAIL", "FAIL", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS"}
	cs := r.checks()
	if len(cs) != len(want) {
		t.Fatalf("%d checks, want %d", len(cs), len(want))
	}
	for i, c := range cs {
		if c.verdict() != want[i] {
			t.Errorf("check %d %q: got %.3f -> %s, want %s", i, c.What, c.Got, c.verdict(), want[i])
		}
	}
	var out bytes.Buffer
	r.print(&out)
	for _, s := range []string{"21.6k msg/s, 0.50 CPU-s/10k", "38.2k pts/s, 0.13", "embedded  | 10000/s", "processor Kafka bytes per reading: 310 (alerts 1000 B in 5 records, processor.state 30000 B in 10 records) for a 200-byte reading record"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

const loadtestOK = `
=== resilience load test (mode servers) ===
stations              1000 (8 MQTT connections, QoS 1, in flight <= 1000 each)
target rate           1000 msg/s for 1m0s = 60000 messages
achieved publish rate 999 msg/s (60000 published in 1m0.05s; 60000 acknowledged)
end-to-end throughput 996 readings/s (60000 processed in 1m0.234s from first publish; processed 184ms after last publish)
                      (collector had written all to Kafka 1m0.1s after first publish, 50ms after last publish)
alerts measured       3000 level fired events (expected 3000, missing 0, unexpected 0)
publish->alert        p50 8.4ms  p90 20.1ms  p99 44.0ms  max 120.5ms
latency by publish time:
      0s-6s     n=300   p50 9.0ms      p99 50.0ms     max 80.0ms
     6s-12s     n=300   p50 8.0ms      p99 40.0ms     max 60.0ms
    54s-1m0s    n=300   p50 7.5ms      p99 30.0ms     max 55.0ms
alert events          fired=3000, resolved=3000
loss                  none (every reading acknowledged and processed, every expected alert seen)
`

const loadtestLoss = `
=== resilience load test (mode servers) ===
achieved publish rate 9876 msg/s (600000 published in 1m0.75s; 600000 acknowledged)
end-to-end throughput n/a: 583535 of 600000 processed when polling stopped (last error: <nil>)
publish->alert        p50 1200.0ms  p90 9000.0ms  p99 12400.0ms  max 20000.0ms
LOSS                  16465 of 600000 readings not processed within -drain 2m0s; 489 of 30000 expected level fired events not seen, 0 unexpected
`

func TestParseLoadtest(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		out     string
		want    e2eResult
		wantErr bool
	}{
		{name: "clean", rate: 1000, out: loadtestOK, want: e2eResult{Rate: 1000, Achieved: 999, Throughput: 996,
			AfterLast: 184 * time.Millisecond, P50: 8400 * time.Microsecond, P99: 44 * time.Millisecond,
			FirstP50: 9 * time.Millisecond, LastP50: 7500 * time.Microsecond, Slices: 3, Parsed: true}},
		{name: "loss", rate: 10000, out: loadtestLoss, want: e2eResult{Rate: 10000, Achieved: 9876, AfterLast: -1,
			P50: 1200 * time.Millisecond, P99: 12400 * time.Millisecond, Unprocessed: 16465, Parsed: true,
			Loss: "16465 of 600000 readings not processed within -drain 2m0s; 489 of 30000 expected level fired events not seen, 0 unexpected"}},
		{name: "no summary", rate: 5000, out: "loadtest: build failed\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLoadtest(tt.rate, tt.out)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error for %q", tt.out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRates(t *testing.T) {
	tests := []struct {
		in      string
		want    []float64
		wantErr bool
	}{
		{in: "1000,5000,10000", want: []float64{1000, 5000, 10000}},
		{in: " 500 ", want: []float64{500}},
		{in: "", want: nil},
		{in: "1000,x", wantErr: true},
		{in: "-5", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseRates("-e2e-rates", tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%q: err %v", tt.in, err)
		}
		if !tt.wantErr && (len(got) != len(tt.want) || len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1]) {
			t.Fatalf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCountLines(t *testing.T) {
	body := "reading,station=A,sensor=water_level value=1 1\nreading,station=B value=2 2\nreadings,x=1 v=1 3\n" +
		"alert,station=A v=1 4\n# comment\n\nreading value=3 5\n"
	tests := []struct {
		name string
		gz   bool
		want int64
	}{{"plain", false, 3}, {"gzip", true, 3}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(body)
			if tt.gz {
				b = gzipped(t, body)
			}
			got, err := countLines(b, tt.gz, "reading")
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	if _, err := countLines([]byte("not gzip"), true, "reading"); err == nil {
		t.Fatal("no error for a bad gzip body")
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCountProxy: only writes to a counted bucket that the upstream
// accepted count; the request reaches the upstream unchanged.
func TestCountProxy(t *testing.T) {
	var gotBodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBodies = append(gotBodies, string(b))
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer up.Close()
	p, err := newCountProxy(up.URL, "reading", "b1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	post := func(query, body string, gz bool) {
		b := []byte(body)
		req, _ := http.NewRequest(http.MethodPost, p.URL()+"/api/v2/write?"+query, nil)
		if gz {
			b = gzipped(t, body)
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("org=o&bucket=b1", "reading,s=A v=1 1\nreading,s=B v=1 2\n", false)
	post("org=o&bucket=b1", "reading,s=C v=1 3\n", true)
	post("org=o&bucket=b1&fail=1", "reading,s=D v=1 4\n", false)
	post("org=o&bucket=other", "reading,s=E v=1 5\n", false)
	if got := p.Count("b1"); got != 3 {
		t.Fatalf("count b1 = %d, want 3", got)
	}
	if got := p.Count("other"); got != 0 {
		t.Fatalf("count other = %d, want 0 (not counted)", got)
	}
	if len(gotBodies) != 4 || gotBodies[0] != "reading,s=A v=1 1\nreading,s=B v=1 2\n" {
		t.Fatalf("upstream got %q", gotBodies)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestTrack(t *testing.T) {
	counts := func(seq ...int64) func(context.Context) (int64, error) {
		i := 0
		return func(context.Context) (int64, error) {
			n := seq[min(i, len(seq)-1)]
			i++
			return n, nil
		}
	}
	var cpu float64
	cpuFn := func() (float64, error) { cpu += 0.5; return cpu, nil }
	t.Run("reaches want", func(t *testing.T) {
		cpu = 0
		d, err := track(context.Background(), trackSpec{Hop: "h", Want: 100, Count: counts(0, 0, 10, 50, 100),
			CPU: cpuFn, Timeout: time.Minute, Stall: time.Minute, Interval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if d.First.Count != 10 || d.Last.Count != 100 || d.First.CPU != 0.5 || d.Last.CPU != 1 {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("exited", func(t *testing.T) {
		ch := make(chan struct{})
		close(ch)
		_, err := track(context.Background(), trackSpec{Hop: "MQTT->Kafka x", Want: 100, Count: counts(5),
			CPU: cpuFn, Exited: ch, Timeout: time.Minute, Stall: time.Minute, Interval: time.Millisecond})
		if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "MQTT->Kafka x: 5 of 100") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		_, err := track(context.Background(), trackSpec{Hop: "h", Want: 100, Count: counts(7),
			CPU: cpuFn, Timeout: time.Hour, Stall: time.Nanosecond, Interval: time.Millisecond})
		if !errors.Is(err, errStalled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("count error names the hop", func(t *testing.T) {
		_, err := track(context.Background(), trackSpec{Hop: "Kafka->InfluxDB y", Want: 1,
			Count: func(context.Context) (int64, error) { return 0, io.ErrUnexpectedEOF }, CPU: cpuFn, Timeout: time.Minute, Stall: time.Minute})
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "Kafka->InfluxDB y") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTopUsers(t *testing.T) {
	before := snapshot{1: {Pid: 1, Comm: "java", CPU: 10}, 2: {Pid: 2, Comm: "influxd", CPU: 5}, 3: {Pid: 3, Comm: "old", CPU: 9}}
	after := snapshot{1: {Pid: 1, Comm: "java", CPU: 30}, 2: {Pid: 2, Comm: "influxd", CPU: 5.2},
		4: {Pid: 4, Comm: "new", CPU: 3}, 3: {Pid: 3, Comm: "reused pid", CPU: 1}}
	top, total := topUsers(before, after, 2, 0.5)
	if len(top) != 2 || top[0].Comm != "java" || top[0].CPU != 20 || top[1].Comm != "new" {
		t.Fatalf("top = %+v", top)
	}
	if math.Abs(total-24.2) > 1e-9 {
		t.Fatalf("total = %v, want 24.2", total)
	}
}

func TestBacklog(t *testing.T) {
	ids := []string{"A", "B", "C"}
	end := time.Date(2026, 10, 28, 3, 0, 0, 500, time.UTC)
	msgs := backlog(ids, 7, harness.Pattern{Cycle: 20, High: 3}, end)
	if len(msgs) != 7 {
		t.Fatalf("%d messages", len(msgs))
	}
	want := []struct {
		st  string
		seq uint64
		ts  time.Time
	}{{"A", 1, end.Add(-2e9)}, {"B", 1, end.Add(-2e9)}, {"C", 1, end.Add(-2e9)}, {"A", 2, end.Add(-1e9)}, {"B", 2, end.Add(-1e9)},
		{"C", 2, end.Add(-1e9)}, {"A", 3, end}}
	for i, w := range want {
		if msgs[i].Station != w.st || msgs[i].Seq != w.seq || !msgs[i].TS.Equal(w.ts.Truncate(time.Second)) {
			t.Fatalf("msg %d = %s/%d at %s, want %s/%d at %s", i, msgs[i].Station, msgs[i].Seq, msgs[i].TS, w.st, w.seq, w.ts.Truncate(time.Second))
		}
	}
}

func TestValidate(t *testing.T) {
	if _, err := parseFlags(nil, io.Discard); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := [][]string{{"-readings", "5", "-stations", "10"}, {"-stations", "0"}, {"-e2e-rates", "x"}, {"extra"}, {"-stall", "0s"}}
	for _, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestShortCmdline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/sbin/mosquitto\x00-c\x00/x/mosquitto.conf\x00", "mosquitto -c /x/mosquitto.conf"},
		{"java\x00" + strings.Repeat("-Xopt ", 20) + "\x00kafka.Kafka\x00/work/srv-a/.cache/services/kafka/server.properties",
			"java -Xopt -Xopt -Xopt -Xopt - ... kafka.Kafka /work/srv-a/.cache/services/kafka/server.properties"},
	}
	for _, tt := range tests {
		if got := shortCmdline(tt.in); got != tt.want {
			t.Errorf("shortCmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLockServers: a second bench against the same broker is refused at
// once; another broker, or the same after release, is not.
func TestLockServers(t *testing.T) {
	dir := t.TempDir()
	release, err := lockServers(dir, "tcp://127.0.0.1:1883")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockServers(dir, "tcp://127.0.0.1:1883"); !errors.Is(err, errBusy) {
		t.Fatalf("second lock: err = %v, want errBusy", err)
	}
	other, err := lockServers(dir, "tcp://127.0.0.1:2183")
	if err != nil {
		t.Fatalf("another broker: %v", err)
	}
	other()
	release()
	again, err := lockServers(dir, "tcp://127.0.0.1:1883")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// TestDeltaMS: a p50 that fell from the first slice to the last is a
// negative growth (within the target), not an unmeasured one.
func TestDeltaMS(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		ok   bool
		want float64
	}{
		{-54500 * time.Microsecond, true, -54.5},
		{12 * time.Millisecond, true, 12},
	} {
		if got := deltaMS(c.d, c.ok); got != c.want {
			t.Errorf("deltaMS(%s) = %v, want %v", c.d, got, c.want)
		}
	}
	if got := deltaMS(time.Second, false); !math.IsNaN(got) {
		t.Errorf("deltaMS of an unmeasured growth = %v, want NaN (n/a)", got)
	}
	c := check{Got: deltaMS(-54500*time.Microsecond, true), Op: "<=", Want: 50}
	if v := c.verdict(); v != "PASS" {
		t.Errorf("a growth of -54.5 ms against <= 50: %s, want PASS", v)
	}
}
