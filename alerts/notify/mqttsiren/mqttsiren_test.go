package mqttsiren_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

// device behaviour per received command (attempt counts from 1).
type behaviour func(station string, attempt int, cmd mqttsiren.Command) (topic string, ack map[string]string)

// broker is an in-process mochi server whose inline client plays the devices.
type broker struct {
	srv      *mqtt.Server
	url      string
	mu       sync.Mutex
	attempts map[string]int // command id → publishes seen
	cmds     []mqttsiren.Command
}

func startBroker(t *testing.T, b behaviour) *broker {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("t", ln)); err != nil {
		t.Fatal(err)
	}
	br := &broker{srv: srv, url: "tcp://" + ln.Addr().String(), attempts: map[string]int{}}
	err = srv.Subscribe("stations/+/cmd/siren", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		var cmd mqttsiren.Command
		if err := json.Unmarshal(pk.Payload, &cmd); err != nil {
			return
		}
		station := strings.Split(pk.TopicName, "/")[1]
		br.mu.Lock()
		br.attempts[cmd.ID]++
		n := br.attempts[cmd.ID]
		br.cmds = append(br.cmds, cmd)
		br.mu.Unlock()
		if topic, ack := b(station, n, cmd); ack != nil {
			body, _ := json.Marshal(ack)
			go srv.Publish(topic, body, false, 1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return br
}

func (b *broker) commands() []mqttsiren.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mqttsiren.Command(nil), b.cmds...)
}

func ackTopic(s string) string { return "stations/" + s + "/cmd/ack" }

func connect(t *testing.T, cfg mqttsiren.Config) *mqttsiren.Channel {
	t.Helper()
	ch, err := mqttsiren.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ch.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for !ch.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("siren channel not connected within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ch
}

func alert(station string, level int, kind schemas.AlertKind) schemas.AlertEvent {
	id := station + "-01"
	return schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, kind, level, t0), Kind: kind, Station: station,
		Sensor: schemas.WaterLevel, Rule: "level:water_level", Level: level, LevelName: "BĐ II", Severity: schemas.SeveritySevere, Value: 8.4, At: t0}
}

func TestSend(t *testing.T) {
	ok := func(s string, _ int, c mqttsiren.Command) (string, map[string]string) {
		return ackTopic(s), map[string]string{"id": c.ID, "status": "ok"}
	}
	cases := []struct {
		name     string
		device   behaviour
		wantErr  error
		attempts int
		acks     int
		// timeout: long where an ack must arrive in time (a loaded machine
		// must not turn a late ack into a retry), short where none comes.
		timeout time.Duration
	}{
		{"acknowledged", ok, nil, 1, 1, 30 * time.Second},
		{"first command lost, the republish acknowledged", func(s string, n int, c mqttsiren.Command) (string, map[string]string) {
			if n == 1 {
				return "", nil
			}
			return ok(s, n, c)
		}, nil, 2, 1, 3 * time.Second},
		{"silent device: retries then unconfirmed", func(string, int, mqttsiren.Command) (string, map[string]string) { return "", nil },
			notify.ErrUnconfirmed, 3, 0, 50 * time.Millisecond},
		{"device rejects", func(s string, _ int, c mqttsiren.Command) (string, map[string]string) {
			return ackTopic(s), map[string]string{"id": c.ID, "status": "error", "detail": "horn fault"}
		}, mqttsiren.ErrRejected, 1, 1, 30 * time.Second},
		{"another station's ack does not count", func(_ string, _ int, c mqttsiren.Command) (string, map[string]string) {
			return ackTopic("TB-NONGSON"), map[string]string{"id": c.ID, "status": "ok"}
		}, notify.ErrUnconfirmed, 3, 0, 50 * time.Millisecond},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			br := startBroker(t, c.device)
			ch := connect(t, mqttsiren.Config{Name: "siren[0]", Broker: br.url, ClientID: "alerts-siren-" + string(rune('a'+i)),
				AckTimeout: c.timeout, Retries: 2})
			n := notify.Notification{ID: "n1", Alerts: []schemas.AlertEvent{alert("VG-AINGHIA", 2, schemas.AlertFired)}, At: t0}
			err := ch.Send(context.Background(), n)
			if (c.wantErr == nil) != (err == nil) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("Send = %v, want %v", err, c.wantErr)
			}
			cmds := br.commands()
			if len(cmds) != c.attempts {
				t.Fatalf("device got %d commands, want %d", len(cmds), c.attempts)
			}
			for _, cmd := range cmds {
				if cmd.ID != "n1/VG-AINGHIA" || cmd.Pattern != "bd3" || cmd.AlertID != "VG-AINGHIA-01" {
					t.Errorf("command %+v", cmd)
				}
			}
			if acks := ch.Acks("VG-AINGHIA-01"); len(acks) != c.acks {
				t.Errorf("acks recorded = %+v, want %d", acks, c.acks)
			}
		})
	}
}

func TestNotConnected(t *testing.T) {
	ch, err := mqttsiren.New(mqttsiren.Config{Broker: "tcp://127.0.0.1:1", ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), notify.Notification{ID: "n", Alerts: []schemas.AlertEvent{alert("VG-AINGHIA", 1, schemas.AlertFired)}})
	if !errors.Is(err, mqttsiren.ErrNotConnected) || errors.Is(err, notify.ErrPermanent) {
		t.Errorf("Send before Run = %v, want ErrNotConnected (retryable)", err)
	}
}

func TestCommands(t *testing.T) {
	cases := []struct {
		name     string
		stations []string
		alerts   []schemas.AlertEvent
		want     []string // station:pattern:alert
	}{
		{"alert's own station", nil, []schemas.AlertEvent{alert("VG-AINGHIA", 1, schemas.AlertFired)}, []string{"VG-AINGHIA:alert:VG-AINGHIA-01"}},
		{"level 2 sounds bd3", nil, []schemas.AlertEvent{alert("VG-AINGHIA", 2, schemas.AlertEscalated)}, []string{"VG-AINGHIA:bd3:VG-AINGHIA-01"}},
		{"resolved turns off", nil, []schemas.AlertEvent{alert("VG-AINGHIA", 0, schemas.AlertResolved)}, []string{"VG-AINGHIA:off:VG-AINGHIA-01"}},
		{"configured stations get the most severe", []string{"SIREN-1", "SIREN-2"},
			[]schemas.AlertEvent{alert("VG-AINGHIA", 1, schemas.AlertFired), alert("TB-NONGSON", 3, schemas.AlertFired)},
			[]string{"SIREN-1:bd3:TB-NONGSON-01", "SIREN-2:bd3:TB-NONGSON-01"}},
		{"basin alerts have no siren of their own", nil, []schemas.AlertEvent{alert("BASIN-vu-gia", 1, schemas.AlertFired)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := mqttsiren.New(mqttsiren.Config{Broker: "tcp://127.0.0.1:1", ClientID: "x", Stations: c.stations})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cmd := range ch.Commands(notify.Notification{ID: "n", Alerts: c.alerts}) {
				got = append(got, cmd.Station+":"+cmd.Pattern+":"+cmd.AlertID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("commands = %v, want %v", got, c.want)
			}
		})
	}
	if _, err := mqttsiren.New(mqttsiren.Config{Broker: "tcp://h:1", ClientID: "x", Stations: []string{"a/b"}}); err == nil {
		t.Error("New accepted a station id with a slash")
	}
	ch, _ := mqttsiren.New(mqttsiren.Config{Broker: "tcp://h:1", ClientID: "x"})
	if err := ch.Send(context.Background(), notify.Notification{ID: "n", Alerts: []schemas.AlertEvent{alert("BASIN-x", 1, schemas.AlertFired)}}); !errors.Is(err, notify.ErrPermanent) {
		t.Errorf("Send with no station = %v, want permanent", err)
	}
}
