package embedded_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/internal/embedded"
)

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(burstDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, burstDeadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMQTTRefusesOversizePacket: the broker had no packet-size limit
// (mochi's 0 is unlimited), so a client could make it read any packet into
// memory. A packet over max_packet_size disconnects its client before the
// packet is read; the broker counts it and keeps serving everyone, the
// same client too after it reconnects.
func TestMQTTRefusesOversizePacket(t *testing.T) {
	addr := freeAddr(t)
	b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, Dev: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	runBroker(t, b.Run)
	waitListening(t, addr)

	got := make(chan string, 10)
	col := mustDial(t, b.URL(), "collector-size", "", "")
	if q := subscribe(t, col, "stations/+/readings", 1, func(_ mqtt.Client, m mqtt.Message) {
		got <- fmt.Sprintf("%s %d", m.Topic(), len(m.Payload()))
	}); q != 1 {
		t.Fatalf("subscription granted 0x%02x", q)
	}
	other := mustDial(t, b.URL(), "TB-HOIAN", "", "")

	lost := make(chan error, 1)
	big := mustDial(t, b.URL(), "VG-AINGHIA", "", "", func(o *mqtt.ClientOptions) {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	})
	tok := big.Publish("stations/VG-AINGHIA/readings", 1, false, bytes.Repeat([]byte("x"), 2<<20))
	select {
	case <-lost:
	case <-time.After(burstDeadline):
		t.Fatal("a client publishing 2 MiB was not disconnected")
	}
	if tok.WaitTimeout(burstDeadline) && tok.Error() == nil {
		t.Error("the 2 MiB publish was acknowledged")
	}
	eventually(t, "TooLarge() == 1", func() bool { return b.TooLarge() == 1 })

	// Other clients are served; the 2 MiB message went nowhere.
	if err := wait(t, other.Publish("stations/TB-HOIAN/readings", 1, false, "ok")); err != nil {
		t.Fatalf("other client's publish: %v", err)
	}
	expect := func(want string) {
		t.Helper()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("subscriber received %q, want %q", g, want)
			}
		case <-time.After(burstDeadline):
			t.Fatalf("subscriber did not receive %q", want)
		}
	}
	expect("stations/TB-HOIAN/readings 2")
	// The same client reconnects and sends a catch-up batch of 200 KiB
	// (under the default 256 KiB).
	again := mustDial(t, b.URL(), "VG-AINGHIA", "", "")
	if err := wait(t, again.Publish("stations/VG-AINGHIA/readings", 1, false, bytes.Repeat([]byte("y"), 200<<10))); err != nil {
		t.Fatalf("publish after reconnect: %v", err)
	}
	expect(fmt.Sprintf("stations/VG-AINGHIA/readings %d", 200<<10))
	if n := b.TooLarge(); n != 1 {
		t.Errorf("TooLarge() = %d, want 1", n)
	}
}

// TestMQTTFlooderDoesNotDropOthers: mochi acknowledges a QoS 1 publish at
// once and, once the subscriber holds max_inflight unacknowledged messages,
// drops every further message to it, from any publisher. One device
// flooding the broker thus made it drop other stations' readings. Now the
// flooder's publishes wait for the subscriber (its socket is not read),
// the second station's 100 sequenced messages all arrive, and so do the
// flooder's.
func TestMQTTFlooderDoesNotDropOthers(t *testing.T) {
	const (
		maxInflight = 200 // small, so that the flood reaches it at once
		flood       = 3000
		sequenced   = 100
		ackBatch    = 20
	)
	addr := freeAddr(t)
	b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, Dev: true, DataDir: t.TempDir(), MaxInflight: maxInflight}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	runBroker(t, b.Run)
	waitListening(t, addr)

	var (
		mu        sync.Mutex
		seen      = map[string]bool{}
		seqSeen   int
		floodSeen int
	)
	pending := make(chan mqtt.Message, maxInflight)
	quit := make(chan struct{})
	ackerDone := make(chan struct{})
	// gate closes when the subscriber holds maxInflight unacknowledged
	// flood messages: from then on the flooder is over the limit whatever
	// the machine's speed.
	gate := make(chan struct{})
	// A slow collector: acknowledges nothing until the gate, then 20
	// messages every 10 ms.
	go func() {
		defer close(ackerDone)
		select {
		case <-gate:
		case <-quit:
			return
		}
		for {
			for i := 0; i < ackBatch; i++ {
				select {
				case m := <-pending:
					m.Ack()
				case <-quit:
					return
				}
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-quit:
				return
			}
		}
	}()
	sub := mustDial(t, b.URL(), "collector-flood", "", "", func(o *mqtt.ClientOptions) {
		o.SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(false)
	})
	defer func() {
		sub.Disconnect(250)
		close(quit)
		<-ackerDone
	}()
	firstFlood := make(chan struct{})
	var once sync.Once
	if q := subscribe(t, sub, "$share/resilience/stations/+/readings", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		if p := string(m.Payload()); !seen[p] {
			seen[p] = true
			if strings.HasPrefix(p, "seq-") {
				seqSeen++
			} else {
				floodSeen++
				once.Do(func() { close(firstFlood) })
				if floodSeen == maxInflight {
					close(gate)
				}
			}
		}
		mu.Unlock()
		select {
		case pending <- m:
		case <-quit:
		}
	}); q != 1 {
		t.Fatalf("shared subscription granted 0x%02x", q)
	}

	flooder := mustDial(t, b.URL(), "FLOOD", "", "")
	seq := mustDial(t, b.URL(), "SEQ", "", "")
	floodToks := make([]mqtt.Token, flood)
	for i := range floodToks {
		floodToks[i] = flooder.Publish("stations/FLOOD/readings", 1, false, fmt.Sprintf("flood-%d", i))
	}
	select {
	case <-firstFlood:
	case <-time.After(burstDeadline):
		t.Fatal("no flood message arrived")
	}
	for i := 0; i < sequenced; i++ {
		if err := wait(t, seq.Publish("stations/SEQ/readings", 1, false, fmt.Sprintf("seq-%d", i))); err != nil {
			t.Fatalf("sequenced publish %d: %v", i, err)
		}
	}
	for i, tok := range floodToks {
		if !tok.WaitTimeout(burstDeadline) {
			t.Fatalf("flood publish %d not acknowledged within %s", i, burstDeadline)
		}
		if err := tok.Error(); err != nil {
			t.Fatalf("flood publish %d: %v", i, err)
		}
	}
	eventually(t, "every message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return (seqSeen == sequenced && floodSeen == flood) || b.Dropped() > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if seqSeen != sequenced || floodSeen != flood {
		t.Errorf("received %d of %d sequenced and %d of %d flood messages", seqSeen, sequenced, floodSeen, flood)
	}
	if d := b.Dropped(); d != 0 {
		t.Errorf("broker dropped %d messages, want 0", d)
	}
	if b.Throttled() == 0 {
		t.Error("no publish was throttled: the flood never reached max_inflight, the test proves nothing")
	}
	if n := b.ThrottleDisconnects(); n != 0 {
		t.Errorf("%d publishers disconnected, want 0 (the subscriber kept acknowledging)", n)
	}
}

// TestMQTTThrottledPublisherIsRefusedNotDropped: while the only subscriber
// acknowledges nothing, a publisher whose message would exceed its
// max_inflight waits publish_wait, then is disconnected without an
// acknowledgement (the device keeps the message); nothing is dropped, and
// the messages already queued arrive once the subscriber acknowledges.
func TestMQTTThrottledPublisherIsRefusedNotDropped(t *testing.T) {
	const maxInflight = 10
	addr := freeAddr(t)
	b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, Dev: true, MaxInflight: maxInflight,
		PublishWait: 200 * time.Millisecond}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	runBroker(t, b.Run)
	waitListening(t, addr)

	held := make(chan mqtt.Message, 100)
	sub := mustDial(t, b.URL(), "collector-stuck", "", "", func(o *mqtt.ClientOptions) {
		o.SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(false)
	})
	if q := subscribe(t, sub, "stations/+/readings", 1, func(_ mqtt.Client, m mqtt.Message) { held <- m }); q != 1 {
		t.Fatalf("subscription granted 0x%02x", q)
	}
	lost := make(chan error, 1)
	pub := mustDial(t, b.URL(), "VG-AINGHIA", "", "", func(o *mqtt.ClientOptions) {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	})
	for i := 0; i < maxInflight; i++ {
		if err := wait(t, pub.Publish("stations/VG-AINGHIA/readings", 1, false, fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	over := pub.Publish("stations/VG-AINGHIA/readings", 1, false, "over")
	select {
	case <-lost:
	case <-time.After(burstDeadline):
		t.Fatal("the throttled publisher was not disconnected after publish_wait")
	}
	if over.WaitTimeout(burstDeadline) && over.Error() == nil {
		t.Error("the publish over max_inflight was acknowledged")
	}
	if n := b.ThrottleDisconnects(); n != 1 {
		t.Errorf("ThrottleDisconnects() = %d, want 1", n)
	}
	if d := b.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0", d)
	}
	got := map[string]bool{}
	for len(got) < maxInflight {
		select {
		case m := <-held:
			got[string(m.Payload())] = true
			m.Ack()
		case <-time.After(burstDeadline):
			t.Fatalf("received %d of the %d queued messages", len(got), maxInflight)
		}
	}
	if got["over"] {
		t.Error("the refused message was delivered")
	}
}

func TestMQTTConfigValidateFor(t *testing.T) {
	tests := []struct {
		name       string
		cfg        embedded.MQTTConfig
		maxPayload int
		wantErr    string // "": valid
	}{
		{"defaults against the collector's default", embedded.MQTTConfig{}, 64 << 10, ""},
		{"packet limit under the payload limit", embedded.MQTTConfig{MaxPacketSize: 64 << 10}, 64 << 10, "ingest.max_payload"},
		{"default packet limit under a raised payload limit", embedded.MQTTConfig{}, 1 << 20, "mqtt.embedded.max_packet_size"},
		{"raised together", embedded.MQTTConfig{MaxPacketSize: 2 << 20}, 1 << 20, ""},
		{"own errors first", embedded.MQTTConfig{MaxInflight: 40000}, 64 << 10, "mqtt.embedded.max_inflight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.ValidateFor(tc.maxPayload)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ValidateFor: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ValidateFor = %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestMQTTConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  embedded.MQTTConfig
		keys []string // each must appear in the error; none: valid
	}{
		{"defaults", embedded.MQTTConfig{}, nil},
		{"explicit", embedded.MQTTConfig{Listen: "127.0.0.1:1883", MaxInflight: 1000, MaxPacketSize: 1 << 20,
			PublishWait: time.Minute, StoreFlushInterval: 50 * time.Millisecond}, nil},
		{"max_inflight over the headroom", embedded.MQTTConfig{MaxInflight: 40000}, []string{"mqtt.embedded.max_inflight"}},
		{"max_packet_size too small", embedded.MQTTConfig{MaxPacketSize: 100}, []string{"mqtt.embedded.max_packet_size"}},
		{"max_packet_size over MQTT's limit", embedded.MQTTConfig{MaxPacketSize: 300 << 20}, []string{"mqtt.embedded.max_packet_size"}},
		{"negative publish_wait", embedded.MQTTConfig{PublishWait: -time.Second}, []string{"mqtt.embedded.publish_wait"}},
		{"store_flush_interval too long", embedded.MQTTConfig{StoreFlushInterval: time.Minute}, []string{"mqtt.embedded.store_flush_interval"}},
		{"bad listen", embedded.MQTTConfig{Listen: "nowhere"}, []string{"mqtt.embedded.listen"}},
		{"all at once", embedded.MQTTConfig{MaxInflight: 50000, MaxPacketSize: -1, PublishWait: time.Hour},
			[]string{"mqtt.embedded.max_inflight", "mqtt.embedded.max_packet_size", "mqtt.embedded.publish_wait"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.keys) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted a bad config")
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
			cfg := tc.cfg
			cfg.Dev = true
			if _, err := embedded.NewMQTT(cfg, quietLogger()); err == nil {
				t.Error("NewMQTT accepted a bad config")
			}
		})
	}
}

// TestMQTTSessionBacklogSurvivesRestart: messages queued for an offline
// persistent session (the collector while it is down) are all delivered
// after the broker restarts. mochi's bolt hook stored in-flight messages
// without their packet id, so after a restart they all became packet 0 and
// only one of them was delivered.
func TestMQTTSessionBacklogSurvivesRestart(t *testing.T) {
	const backlog = 20
	dir := t.TempDir()
	start := func() (*embedded.MQTTBroker, func()) {
		addr := freeAddr(t)
		b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, Dev: true, DataDir: dir}, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		stop := runBroker(t, b.Run)
		waitListening(t, addr)
		return b, stop
	}
	persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false) }

	b, stop := start()
	col := mustDial(t, b.URL(), "collector-restart", "", "", persistent)
	if q := subscribe(t, col, "$share/resilience/stations/+/readings", 1, func(mqtt.Client, mqtt.Message) {}); q != 1 {
		t.Fatalf("subscription granted 0x%02x", q)
	}
	col.Disconnect(250)
	dev := mustDial(t, b.URL(), "VG-AINGHIA", "", "")
	for i := 0; i < backlog; i++ {
		if err := wait(t, dev.Publish("stations/VG-AINGHIA/readings", 1, false, fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	dev.Disconnect(250)
	stop()

	b, _ = start()
	got := make(chan string, 2*backlog)
	mustDial(t, b.URL(), "collector-restart", "", "", persistent, func(o *mqtt.ClientOptions) {
		o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) })
	})
	seen := map[string]bool{}
	for len(seen) < backlog {
		select {
		case p := <-got:
			seen[p] = true
		case <-time.After(burstDeadline):
			t.Fatalf("after the restart %d of %d queued messages arrived: %v", len(seen), backlog, seen)
		}
	}
}

// TestMQTTStaleSessionsDoNotHoldReadings: persistent sessions that went
// away, a direct subscriber (a tool) and an old member of the collectors'
// shared group, neither stall the devices (the direct one is not waited
// for) nor take readings from the live collector (mochi gave each shared
// message to an arbitrary member, often the offline one, whose session
// only filled up).
func TestMQTTStaleSessionsDoNotHoldReadings(t *testing.T) {
	const (
		maxInflight = 10
		readings    = 3 * maxInflight
	)
	addr := freeAddr(t)
	b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, Dev: true, MaxInflight: maxInflight,
		PublishWait: 200 * time.Millisecond}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	runBroker(t, b.Run)
	waitListening(t, addr)
	persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false) }
	for _, s := range []struct{ id, filter string }{
		{"stale-tool", "stations/+/readings"},
		{"collector-old", "$share/resilience/stations/+/readings"},
	} {
		c := mustDial(t, b.URL(), s.id, "", "", persistent)
		if q := subscribe(t, c, s.filter, 1, func(mqtt.Client, mqtt.Message) {}); q != 1 {
			t.Fatalf("%s: subscription granted 0x%02x", s.id, q)
		}
		c.Disconnect(250)
		// A member still open gets its share (pick): under load the
		// broker may not have seen the disconnect yet.
		for deadline := time.Now().Add(burstDeadline); b.Connected(s.id); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still connected after its disconnect", s.id)
			}
		}
	}
	got := make(chan string, readings)
	col := mustDial(t, b.URL(), "collector-new", "", "", persistent)
	if q := subscribe(t, col, "$share/resilience/stations/+/readings", 1, func(_ mqtt.Client, m mqtt.Message) {
		got <- string(m.Payload())
	}); q != 1 {
		t.Fatalf("subscription granted 0x%02x", q)
	}
	dev := mustDial(t, b.URL(), "VG-AINGHIA", "", "")
	for i := 0; i < readings; i++ {
		if err := wait(t, dev.Publish("stations/VG-AINGHIA/readings", 1, false, fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < readings {
		select {
		case p := <-got:
			seen[p] = true
		case <-time.After(burstDeadline):
			t.Fatalf("the live collector received %d of %d readings", len(seen), readings)
		}
	}
	if n := b.ThrottleDisconnects(); n != 0 {
		t.Errorf("ThrottleDisconnects() = %d, want 0: a stale session stalled the device", n)
	}
}
