package embedded_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/bcrypt"

	"github.com/resilience-project/resilience/internal/embedded"
)

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dial connects a paho client (no automatic reconnects).
func dial(t testing.TB, url, clientID, user, pw string, tune ...func(*mqtt.ClientOptions)) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(10 * time.Second).SetKeepAlive(30 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword(pw)
	}
	for _, f := range tune {
		f(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		return nil, fmt.Errorf("connect %s: timed out", clientID)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

func mustDial(t testing.TB, url, clientID, user, pw string, tune ...func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	c, err := dial(t, url, clientID, user, pw, tune...)
	if err != nil {
		t.Fatalf("connect %s as %q: %v", clientID, user, err)
	}
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(100)
		}
	})
	return c
}

// wait waits for a token and returns its error.
func wait(t testing.TB, tok mqtt.Token) error {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatal("MQTT operation timed out")
	}
	return tok.Error()
}

// subscribe subscribes and returns the granted QoS (0x80: refused).
func subscribe(t testing.TB, c mqtt.Client, filter string, qos byte, h mqtt.MessageHandler) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, h)
	if err := wait(t, tok); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	key := filter
	if strings.HasPrefix(key, "$share/") { // paho keys results by the filter without $share/{group}/
		key = strings.Join(strings.Split(key, "/")[2:], "/")
	}
	q, ok := tok.(*mqtt.SubscribeToken).Result()[key]
	if !ok {
		t.Fatalf("subscribe %s: no result in %v", filter, tok.(*mqtt.SubscribeToken).Result())
	}
	return q
}

const (
	devicePW    = "device-secret-1"
	otherPW     = "device-secret-2"
	collectorPW = "collector-secret"
)

func startAuthBroker(t *testing.T) *embedded.MQTTBroker {
	t.Helper()
	creds := writeFile(t, "credentials.yaml", fmt.Sprintf(`devices:
  - id: VG-AINGHIA
    password_hash: %q
  - id: TB-HOIAN
    password_hash: %q
collectors:
  - username: collector
    password_hash: %q
`, hash(t, devicePW), hash(t, otherPW), hash(t, collectorPW)))
	addr := freeAddr(t)
	b, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: addr, DataDir: t.TempDir(), CredentialsFile: creds}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	runBroker(t, b.Run)
	waitListening(t, addr)
	if b.URL() != "tcp://"+addr {
		t.Errorf("URL() = %q, want tcp://%s", b.URL(), addr)
	}
	return b
}

func TestMQTTAuthentication(t *testing.T) {
	b := startAuthBroker(t)
	tests := []struct {
		name, clientID, user, pw string
		ok                       bool
	}{
		{"anonymous", "auth-0", "", "", false},
		{"unknown user", "auth-1", "nobody", devicePW, false},
		{"wrong password", "VG-AINGHIA", "VG-AINGHIA", otherPW, false},
		{"collector with a device password", "auth-3", "collector", devicePW, false},
		{"empty password", "VG-AINGHIA", "VG-AINGHIA", "", false},
		{"device", "VG-AINGHIA", "VG-AINGHIA", devicePW, true},
		{"device with a suffixed client id", "VG-AINGHIA-2", "VG-AINGHIA", devicePW, true},
		// Session takeover: a device may not use another client's id.
		{"device with another device's client id", "TB-HOIAN", "VG-AINGHIA", devicePW, false},
		{"device with the collector's client id", "auth-collector", "VG-AINGHIA", devicePW, false},
		{"collector", "auth-collector", "collector", collectorPW, true},
		{"collector with a device's client id", "VG-AINGHIA", "collector", collectorPW, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial(t, b.URL(), tc.clientID, tc.user, tc.pw)
			if c != nil {
				defer c.Disconnect(100)
			}
			if tc.ok && err != nil {
				t.Errorf("connect as %q refused: %v", tc.user, err)
			}
			if !tc.ok && err == nil {
				t.Errorf("connect as %q with password %q accepted", tc.user, tc.pw)
			}
		})
	}
}

func TestMQTTAuthorization(t *testing.T) {
	b := startAuthBroker(t)
	type delivery struct{ topic, payload string }
	got := make(chan delivery, 100)
	col := mustDial(t, b.URL(), "collector-1", "collector", collectorPW)
	if q := subscribe(t, col, "$share/g/stations/+/readings", 1, func(_ mqtt.Client, m mqtt.Message) {
		got <- delivery{m.Topic(), string(m.Payload())}
	}); q != 1 {
		t.Fatalf("collector shared subscription granted 0x%02x, want QoS 1", q)
	}

	dev := mustDial(t, b.URL(), "VG-AINGHIA-1", "VG-AINGHIA", devicePW)
	// A device may not read other stations' readings, only its own downlink.
	if q := subscribe(t, dev, "stations/+/readings", 1, func(mqtt.Client, mqtt.Message) {}); q != 0x80 {
		t.Errorf("device subscription to stations/+/readings granted 0x%02x, want refused (0x80)", q)
	}
	if q := subscribe(t, dev, "stations/VG-AINGHIA/cmd/#", 1, func(mqtt.Client, mqtt.Message) {}); q != 1 {
		t.Errorf("device subscription to its downlink granted 0x%02x, want QoS 1", q)
	}

	// Own topic: delivered. Another station's topic (QoS 0): dropped
	// silently. The broker handles one client's packets in order, so the
	// sentinel published after the spoof arrives after the spoof would have.
	for _, p := range []struct {
		topic, payload string
		qos            byte
	}{
		{"stations/VG-AINGHIA/readings", "own", 1},
		{"stations/TB-HOIAN/readings", "spoof-qos0", 0},
		{"stations/VG-AINGHIA/readings", "sentinel", 1},
	} {
		if err := wait(t, dev.Publish(p.topic, p.qos, false, p.payload)); err != nil {
			t.Fatalf("publish %s: %v", p.payload, err)
		}
	}
	want := []delivery{{"stations/VG-AINGHIA/readings", "own"}, {"stations/VG-AINGHIA/readings", "sentinel"}}
	for _, w := range want {
		select {
		case d := <-got:
			if d != w {
				t.Fatalf("collector received %+v, want %+v", d, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("collector did not receive %+v", w)
		}
	}

	// A QoS 1 publish to another station's topic is refused: an MQTT 3
	// client cannot be told per message, so the broker disconnects it.
	lost := make(chan error, 1)
	dev2 := mustDial(t, b.URL(), "VG-AINGHIA-2", "VG-AINGHIA", devicePW, func(o *mqtt.ClientOptions) {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	})
	dev2.Publish("stations/TB-HOIAN/readings", 1, false, "spoof-qos1")
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("a device publishing QoS 1 to another station's topic was not disconnected")
	}
	// The genuine TB-HOIAN device still gets through, and nothing else
	// arrived before it.
	hoi := mustDial(t, b.URL(), "TB-HOIAN-1", "TB-HOIAN", otherPW)
	if err := wait(t, hoi.Publish("stations/TB-HOIAN/readings", 1, false, "genuine")); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if (d != delivery{"stations/TB-HOIAN/readings", "genuine"}) {
			t.Fatalf("collector received %+v, want only the genuine TB-HOIAN reading", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("collector did not receive the genuine TB-HOIAN reading")
	}
	// Collectors may not publish outside stations/.
	if err := wait(t, col.Publish("stations/VG-AINGHIA/cmd/reboot", 0, false, "ok")); err != nil {
		t.Errorf("collector publish under stations/: %v", err)
	}
}

func TestNewMQTTRequiresCredentialsUnlessDev(t *testing.T) {
	_, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: freeAddr(t)}, quietLogger())
	if err == nil || !strings.Contains(err.Error(), "mqtt.embedded.credentials_file") {
		t.Errorf("NewMQTT without credentials = %v, want an error naming mqtt.embedded.credentials_file", err)
	}
	bad := writeFile(t, "c.yaml", "devices:\n  - id: VG-AINGHIA\n    password_hash: plain\n")
	if _, err := embedded.NewMQTT(embedded.MQTTConfig{Listen: freeAddr(t), CredentialsFile: bad}, quietLogger()); err == nil {
		t.Error("NewMQTT with a plain-text password accepted")
	}
}

func TestLoadCredentials(t *testing.T) {
	good := hash(t, "x")
	tests := []struct {
		name, content string
		keys          []string // each must appear in the error; none: valid
	}{
		{"valid", fmt.Sprintf("devices:\n  - id: VG-AINGHIA\n    password_hash: %q\ncollectors:\n  - username: c\n    password_hash: %q\n", good, good), nil},
		{"empty", "", []string{"mqtt.embedded.credentials_file"}},
		{"bad device id", fmt.Sprintf("devices:\n  - id: VG-AINGHIA\n    password_hash: %q\n  - id: \"bad/id\"\n    password_hash: %q\n", good, good),
			[]string{"devices[1].id", "bad/id"}},
		{"plain password", "devices:\n  - id: VG-AINGHIA\n    password_hash: change-me\n", []string{"devices[0].password_hash"}},
		{"both at once", "devices:\n  - id: \"\"\n    password_hash: \"\"\n", []string{"devices[0].id", "devices[0].password_hash"}},
		{"collector without username", fmt.Sprintf("collectors:\n  - password_hash: %q\n", good), []string{"collectors[0]"}},
		{"collector plain password", "collectors:\n  - username: c\n  - username: d\n    password_hash: pw\n", []string{"collectors[0]", "collectors[1]"}},
		{"unknown key", "devices:\n  - id: VG-AINGHIA\n    password: x\n", []string{"mqtt.embedded.credentials_file", "password"}},
		{"not yaml", "devices: [\n", []string{"mqtt.embedded.credentials_file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "credentials.yaml", tc.content)
			c, err := embedded.LoadCredentials(path)
			if len(tc.keys) == 0 {
				if err != nil {
					t.Fatalf("LoadCredentials: %v", err)
				}
				if c == nil {
					t.Fatal("nil credentials")
				}
				return
			}
			if err == nil {
				t.Fatal("LoadCredentials accepted a bad file")
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
		})
	}
	_, err := embedded.LoadCredentials(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "mqtt.embedded.credentials_file") {
		t.Errorf("missing file: %v, want an error naming mqtt.embedded.credentials_file", err)
	}
}
