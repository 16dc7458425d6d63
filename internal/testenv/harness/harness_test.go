package harness

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		err      bool
	}{
		{name: "ok", in: "Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t  2048 kB\nVmRSS:\t1 kB\n", want: 2 << 20},
		{name: "missing", in: "Name:\tx\n", err: true},
		{name: "bad unit", in: "VmHWM:\t 12 MB\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmHWM(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("parseVmHWM = %d, %v; want %d, error %v", got, err, tc.want, tc.err)
			}
		})
	}
	// And on this very process: a real status file parses.
	if v, err := vmHWM(os.Getpid()); err != nil || v <= 0 {
		t.Fatalf("own VmHWM = %d, %v", v, err)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {0, 1}, {10, 1}, {11, 2}}
	for _, tc := range tests {
		if got := Percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v = %d, want %d", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 99) != 0 {
		t.Error("empty: want 0")
	}
}

// echoServer echoes lines until closed.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestTCPProxyBlackholeHoldsBytesUntilHealed(t *testing.T) {
	p, err := NewTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	roundtrip := func(msg string) (string, error) {
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
	if got, err := roundtrip("one"); err != nil || got != "one\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.Blackhole(true)
	got := make(chan string, 1)
	go func() {
		s, _ := roundtrip("two")
		got <- s
	}()
	// Nothing may come back while the hole lasts; the check is bounded by
	// a read deadline, and what matters is that no echo arrives before heal.
	select {
	case s := <-got:
		t.Fatalf("echo %q arrived through a black hole", s)
	case <-time.After(300 * time.Millisecond):
	}
	p.Blackhole(false)
	select {
	case s := <-got:
		if s != "two\n" {
			t.Fatalf("after heal: %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("held bytes never flowed after the black hole ended")
	}
}

func TestTCPProxyCloseEndsBlackholedConnections(t *testing.T) {
	p, err := NewTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Blackhole(true)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "x\n")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read through a closed proxy succeeded")
	}
}

func TestHTTPProxyRefusesAndHooksWrites(t *testing.T) {
	var writes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v2/write" {
			writes.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer up.Close()
	p, err := NewHTTPProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	post := func() int {
		resp, err := http.Post(p.URL()+"/api/v2/write?bucket=b", "text/plain", strings.NewReader("m v=1 1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	hooked := 0
	p.OnNextWrite(func() { hooked++ })
	if code := post(); code != http.StatusNoContent || hooked != 1 || writes.Load() != 1 {
		t.Fatalf("forwarded write: %d, hook ran %d times, upstream saw %d", code, hooked, writes.Load())
	}
	if post(); hooked != 1 {
		t.Fatalf("the hook runs once, ran %d times", hooked)
	}
	p.Refuse(true)
	if code := post(); code != http.StatusServiceUnavailable || writes.Load() != 2 {
		t.Fatalf("refused write: %d, upstream saw %d (want 503, 2)", code, writes.Load())
	}
	p.Refuse(false)
	served, refused := p.Counts()
	if served != 2 || refused != 1 {
		t.Fatalf("counts %d served %d refused, want 2 and 1", served, refused)
	}
}

// checkScenario is a scenario with a registry and no servers.
func checkScenario(t *testing.T, ids ...string) *Scenario {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stations.yaml")
	if err := os.WriteFile(path, []byte(RegistryYAML(ids)), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := schemas.LoadRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Scenario{Stations: ids, Registry: reg}
}

func entry(st string, seq uint64, ts time.Time, lvl float64) Entry {
	return Entry{Station: st, Seq: seq, TS: ts, Level: lvl, Topic: "stations/" + st + "/readings",
		Payload: PayloadV1(st, seq, ts, lvl), Fate: Fate{Kind: Stored}, Created: ts, FirstSent: ts, Acked: ts}
}

func recordMsg(t *testing.T, e Entry) kafka.Message {
	r := schemas.Record{V: 1, Station: e.Station, Seq: e.Seq, TS: e.TS.UTC(), Format: "v1",
		Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: e.Level, Unit: "m"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Value: b}
}

func alertMsg(t *testing.T, ev schemas.AlertEvent) kafka.Message {
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Value: b}
}

func TestCheck(t *testing.T) {
	const st = "CT-01"
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	var entries []Entry
	for i := range 10 {
		lvl := NormalLevel
		if i >= 5 {
			lvl = HighLevel // fires level II at seq 6
		}
		entries = append(entries, entry(st, uint64(i+1), t0.Add(time.Duration(i)*time.Second), lvl))
	}
	bad := entry(st, 11, t0.Add(10*time.Second), 4.8)
	bad.Payload, bad.Fate, bad.Label = []byte("{"), Fate{Kind: DeadLettered, Reasons: []schemas.Reason{schemas.ReasonBadJSON}}, "truncated"
	entries = append(entries, bad)

	s := checkScenario(t, st)
	var readings []kafka.Message
	for _, e := range entries[:10] {
		readings = append(readings, recordMsg(t, e))
	}
	// The events the engine gives for this series: the pipeline's "truth".
	v0, expected, err := s.Check(entries, Inputs{Readings: readings}, engineEval(s))
	if err != nil {
		t.Fatal(err)
	}
	if len(expected) == 0 || v0.EventsMissing != len(expected) {
		t.Fatalf("want some expected events, all missing from empty alerts: %d expected, %d missing", len(expected), v0.EventsMissing)
	}
	var alerts []kafka.Message
	for _, id := range sortedKeys(expected) {
		alerts = append(alerts, alertMsg(t, expected[id]))
	}
	good := func() Inputs {
		inf := map[string]map[uint64]int{st: {}}
		for seq := uint64(1); seq <= 10; seq++ {
			inf[st][seq] = 1
		}
		dl := schemas.NewDeadLetter(schemas.ReasonBadJSON, "x", bad.Topic, bad.Payload, time.Now(), "c")
		b, _ := json.Marshal(dl)
		return Inputs{Influx: inf, Readings: readings, DLQ: []kafka.Message{{Value: b}}, Alerts: append([]kafka.Message(nil), alerts...)}
	}
	extraEv := expected[sortedKeys(expected)[0]]
	extraEv.EventID += "-other"
	tests := []struct {
		name   string
		mutate func(*Inputs)
		want   func(*Verdict) bool
	}{
		{name: "clean", mutate: func(*Inputs) {}, want: func(v *Verdict) bool { return v.OK() && v.DeadLettered == 1 }},
		{name: "lost", mutate: func(in *Inputs) { delete(in.Influx[st], 3) }, want: func(v *Verdict) bool { return v.Lost == 1 && !v.OK() }},
		{name: "duplicate", mutate: func(in *Inputs) { in.Influx[st][4] = 2 }, want: func(v *Verdict) bool { return v.Duplicates == 1 && !v.OK() }},
		{name: "bad one stored", mutate: func(in *Inputs) { in.Influx[st][11] = 1 }, want: func(v *Verdict) bool { return v.Unexpected == 1 && !v.OK() }},
		{name: "no dead letter", mutate: func(in *Inputs) { in.DLQ = nil }, want: func(v *Verdict) bool { return v.DLQMissing == 1 && !v.OK() }},
		{name: "wrong reason", mutate: func(in *Inputs) {
			dl := schemas.NewDeadLetter(schemas.ReasonEmpty, "", bad.Topic, bad.Payload, time.Now(), "c")
			b, _ := json.Marshal(dl)
			in.DLQ = []kafka.Message{{Value: b}}
		}, want: func(v *Verdict) bool { return v.DLQWrong == 1 && !v.OK() }},
		{name: "event missing", mutate: func(in *Inputs) { in.Alerts = in.Alerts[1:] }, want: func(v *Verdict) bool { return v.EventsMissing == 1 && !v.OK() }},
		{name: "event extra", mutate: func(in *Inputs) { in.Alerts = append(in.Alerts, alertMsg(t, extraEv)) }, want: func(v *Verdict) bool { return v.EventsExtra == 1 && !v.OK() }},
		{name: "event repeated is fine", mutate: func(in *Inputs) { in.Alerts = append(in.Alerts, in.Alerts[0]) }, want: func(v *Verdict) bool { return v.EventsRepeated == 1 && v.OK() }},
		{name: "another station's event is ignored", mutate: func(in *Inputs) {
			o := extraEv
			o.Station = "SOMEONE-ELSE"
			in.Alerts = append(in.Alerts, alertMsg(t, o))
		}, want: func(v *Verdict) bool { return v.OK() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.mutate(&in)
			v, _, err := s.Check(entries, in, engineEval(s))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(v) {
				t.Fatalf("verdict %+v", *v)
			}
		})
	}
}

func TestCheckFollowsKafkaOrderWhenReordered(t *testing.T) {
	const st = "CT-02"
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	var entries []Entry
	for i := range 8 {
		lvl := NormalLevel
		if i == 4 || i == 5 {
			lvl = HighLevel
		}
		entries = append(entries, entry(st, uint64(i+1), t0.Add(time.Duration(i)*time.Second), lvl))
	}
	s := checkScenario(t, st)
	// Kafka got seq 6 before seq 5 (two collectors of a share group).
	order := []int{0, 1, 2, 3, 5, 4, 6, 7}
	var readings []kafka.Message
	for _, i := range order {
		readings = append(readings, recordMsg(t, entries[i]))
	}
	v, _, err := s.Check(entries, Inputs{Readings: readings}, engineEval(s))
	if err != nil {
		t.Fatal(err)
	}
	if v.Reordered != 1 {
		t.Fatalf("reordered stations = %d, want 1", v.Reordered)
	}
}

func TestCheckStore(t *testing.T) {
	s := checkScenario(t, "CS-01")
	at := time.Unix(1000, 0)
	fired := schemas.AlertEvent{ID: "A", EventID: "A:f", Kind: schemas.AlertFired, Station: "CS-01", Rule: "r", At: at}
	resolved := schemas.AlertEvent{ID: "A", EventID: "A:r", Kind: schemas.AlertResolved, Station: "CS-01", Rule: "r", At: at.Add(time.Second)}
	other := schemas.AlertEvent{ID: "B", EventID: "B:f", Kind: schemas.AlertFired, Station: "CS-01", Rule: "q", At: at}
	expected := map[string]schemas.AlertEvent{fired.EventID: fired, resolved.EventID: resolved, other.EventID: other}
	tests := []struct {
		name string
		got  []StoreAlert
		bad  int
	}{
		{name: "exact", got: []StoreAlert{{ID: "A", Station: "CS-01", State: "resolved", Events: 2}, {ID: "B", Station: "CS-01", State: "firing", Events: 1}}},
		{name: "event applied twice", got: []StoreAlert{{ID: "A", Station: "CS-01", State: "resolved", Events: 3}, {ID: "B", Station: "CS-01", State: "firing", Events: 1}}, bad: 1},
		{name: "wrong state", got: []StoreAlert{{ID: "A", Station: "CS-01", State: "firing", Events: 2}, {ID: "B", Station: "CS-01", State: "firing", Events: 1}}, bad: 1},
		{name: "missing", got: []StoreAlert{{ID: "B", Station: "CS-01", State: "firing", Events: 1}}, bad: 1},
		{name: "unexpected", got: []StoreAlert{{ID: "A", Station: "CS-01", State: "resolved", Events: 2}, {ID: "B", Station: "CS-01", State: "firing", Events: 1}, {ID: "C", Station: "CS-01", State: "firing", Events: 1}}, bad: 1},
		{name: "others ignored", got: []StoreAlert{{ID: "A", Station: "CS-01", State: "resolved", Events: 2}, {ID: "B", Station: "CS-01", State: "firing", Events: 1}, {ID: "Z", Station: "ELSE", State: "firing", Events: 9}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verdict{}
			if got := s.CheckStore(v, expected, tc.got); got != tc.bad || v.StoreMismatches != tc.bad {
				t.Fatalf("mismatches %d (verdict %d), want %d: %v", got, v.StoreMismatches, tc.bad, v.Problems)
			}
		})
	}
}
