package harness

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/resilience-project/resilience/schemas"
)

// TestRegistryYAMLUnchanged: the chaos registry keeps its exact text now
// that StationsYAML writes it.
func TestRegistryYAMLUnchanged(t *testing.T) {
	want := "stations:\n" +
		"  - id: CAB-F1-00\n    name: chaos 0\n    basin: b-cab-f1-00\n    district: d0\n" +
		"    lat: 16.0\n    lon: 108.0\n    interval: 24h\n    sensors: [water_level]\n" +
		"    alarm_levels_m: {I: 5.0, II: 5.5, III: 7.0}\n" +
		"  - id: CAB-F1-06\n    name: chaos 1\n    basin: b-cab-f1-06\n    district: d1\n" +
		"    lat: 16.0\n    lon: 108.0\n    interval: 24h\n    sensors: [water_level]\n" +
		"    alarm_levels_m: {I: 5.0, II: 5.5, III: 7.0}\n"
	if got := RegistryYAML([]string{"CAB-F1-00", "CAB-F1-06"}); got != want {
		t.Fatalf("RegistryYAML:\n%s\nwant:\n%s", got, want)
	}
}

func TestStationsYAML(t *testing.T) {
	ids := []string{"T1-000", "T1-001", "T1-002"}
	tests := []struct {
		name      string
		sp        StationSpec
		basins    []string
		interval  time.Duration
		districts []string
		sensors   int
	}{
		{"shared basin", StationSpec{Name: "test", Basin: "test", Interval: "10m", Sensors: []string{"water_level", "rainfall"}, Districts: 2},
			[]string{"test", "test", "test"}, 10 * time.Minute, []string{"d0", "d1", "d0"}, 2},
		{"own basins", StationSpec{Name: "lt", Interval: "24h", Sensors: []string{"water_level"}},
			[]string{"b-t1-000", "b-t1-001", "b-t1-002"}, 24 * time.Hour, []string{"d0", "d0", "d0"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := schemas.ParseRegistry([]byte(StationsYAML(ids, tc.sp)))
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				st := reg.Lookup(id)
				if st == nil {
					t.Fatalf("%s not in the registry", id)
				}
				if st.Basin != tc.basins[i] || st.District != tc.districts[i] || st.Interval != tc.interval || len(st.Sensors) != tc.sensors {
					t.Errorf("%s: basin %q district %q interval %s sensors %v", id, st.Basin, st.District, st.Interval, st.Sensors)
				}
			}
		})
	}
}

func TestPatternHighAndCycle(t *testing.T) {
	p := Pattern{Cycle: 5, High: 2}
	tests := []struct {
		i     int
		seq   uint64
		high  bool
		cycle uint64
	}{
		{0, 1, false, 0}, {0, 4, true, 0}, {0, 5, true, 0}, {0, 6, false, 1},
		{1, 3, true, 0}, {1, 5, false, 1}, {7, 1, false, 1}, {7, 2, true, 1},
	}
	for _, tc := range tests {
		if got := p.IsHigh(tc.i, tc.seq); got != tc.high {
			t.Errorf("IsHigh(%d, %d) = %v, want %v", tc.i, tc.seq, got, tc.high)
		}
		if got := p.CycleOf(tc.i, tc.seq); got != tc.cycle {
			t.Errorf("CycleOf(%d, %d) = %d, want %d", tc.i, tc.seq, got, tc.cycle)
		}
		if lvl := p.Level(tc.i, tc.seq); (lvl > 5.5) != tc.high {
			t.Errorf("Level(%d, %d) = %v, high %v", tc.i, tc.seq, lvl, tc.high)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP resilience_processor_records_total Records processed.
# TYPE resilience_processor_records_total counter
resilience_processor_records_total{outcome="ok"} 1200
resilience_processor_records_total{outcome="unknown_station"} 7
resilience_processor_records_total{outcome="late"} 3 1700000000000
resilience_embedded_mqtt_dropped_total 0
weird{l="a b}"} 2.5e+01
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		except []string
		want   float64
	}{
		{"resilience_processor_records_total", nil, 1210},
		{"resilience_processor_records_total", []string{`outcome="unknown_station"`}, 1203},
		{"resilience_embedded_mqtt_dropped_total", nil, 0},
		{"weird", nil, 25},
		{"absent", nil, 0},
	}
	for _, tc := range tests {
		if got := m.Sum(tc.name, tc.except...); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.except, got, tc.want)
		}
	}
	if got := m.Get("resilience_processor_records_total", `outcome="late"`); got != 3 {
		t.Errorf("late = %v, want 3", got)
	}
}

// broker is an in-process mochi broker that records what it receives.
type broker struct {
	url string
	mu  sync.Mutex
	got map[string][]uint64 // station -> seqs in arrival order
	raw []string            // payloads that are not readings
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	b := &broker{url: "tcp://" + addr, got: map[string][]uint64{}}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	if err := s.AddHook(&recordHook{b: b}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return b
}

// recordHook records every PUBLISH the broker receives.
type recordHook struct {
	mochi.HookBase
	b *broker
}

func (h *recordHook) ID() string { return "record" }

func (h *recordHook) Provides(b byte) bool { return b == mochi.OnPublish }

func (h *recordHook) OnPublish(_ *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	var r struct {
		Station string `json:"station"`
		Seq     uint64 `json:"seq"`
	}
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if json.Unmarshal(pk.Payload, &r) != nil || r.Station == "" {
		h.b.raw = append(h.b.raw, pk.TopicName+" "+string(pk.Payload))
	} else {
		h.b.got[r.Station] = append(h.b.got[r.Station], r.Seq)
	}
	return pk, nil
}

func (b *broker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.raw)
	for _, s := range b.got {
		n += len(s)
	}
	return n
}

// TestPublish: every message arrives once, each station's in order, with
// every PUBACK counted and each message's publish time noted; raw
// messages go out as they are.
func TestPublish(t *testing.T) {
	tests := []struct {
		name     string
		clients  int
		inflight int
		rate     float64
	}{
		{"unpaced, 3 connections", 3, 10, 0},
		{"paced, 2 connections", 2, 100, 2000},
		{"one message in flight", 1, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t)
			stations := []string{"S-1", "S-2", "S-3", "S-4", "S-5"}
			var msgs []Message
			for seq := uint64(1); seq <= 40; seq++ {
				for _, st := range stations {
					msgs = append(msgs, Message{Station: st, Seq: seq, Level: 4.8})
				}
			}
			msgs = append(msgs, Message{Topic: "stations/X/readings", Payload: []byte("not json")})
			res, err := Publish(context.Background(), PublishConfig{URL: b.url, ClientID: "t", Clients: tc.clients,
				Inflight: tc.inflight, Rate: tc.rate}, msgs)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != len(msgs) || res.Acked != len(msgs) || res.Errors != 0 {
				t.Fatalf("sent %d acked %d errors %d, want %d, %d, 0 (%v)", res.Sent, res.Acked, res.Errors, len(msgs), len(msgs), res.FirstErr)
			}
			for i, at := range res.At {
				if at.IsZero() || at.Before(res.First) || at.After(res.Last) {
					t.Fatalf("message %d: publish time %v outside [%v, %v]", i, at, res.First, res.Last)
				}
			}
			// PUBACKs came, so the broker has them; its inline handler may
			// trail a moment: wait for the count, not for a time.
			if err := WaitFor(context.Background(), "broker received all", time.Minute, 10*time.Millisecond,
				func(context.Context) (bool, error) { return b.count() == len(msgs), nil }); err != nil {
				t.Fatal(err)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, st := range stations {
				seqs := b.got[st]
				if len(seqs) != 40 {
					t.Fatalf("%s: %d messages, want 40", st, len(seqs))
				}
				for i, s := range seqs {
					if s != uint64(i+1) {
						t.Fatalf("%s: seq %d at position %d: out of order %v", st, s, i, seqs)
					}
				}
			}
			if len(b.raw) != 1 || b.raw[0] != "stations/X/readings not json" {
				t.Fatalf("raw messages %q", b.raw)
			}
		})
	}
}

func TestPublishConnectError(t *testing.T) {
	addr, err := FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	_, err = Publish(context.Background(), PublishConfig{URL: "tcp://" + addr, ClientID: "t"}, []Message{{Station: "S-1", Seq: 1}})
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
}
