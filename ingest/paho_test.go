package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// refuseSubscribe is a mochi hook that lets every client in and refuses
// every subscription (publishing is allowed).
type refuseSubscribe struct{ mochi.HookBase }

func (h *refuseSubscribe) ID() string { return "refuse-subscribe" }
func (h *refuseSubscribe) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}
func (h *refuseSubscribe) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (h *refuseSubscribe) OnACLCheck(_ *mochi.Client, _ string, write bool) bool    { return write }

// startMochi serves an in-process broker on addr with hook.
func startMochi(t *testing.T, addr string, hook mochi.Hook) *mochi.Server {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: true})
	if err := srv.AddHook(hook, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	return srv
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it holds; reaching failDeadline is a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startPahoCollector runs a collector with the real paho client against
// broker addr.
func startPahoCollector(t *testing.T, addr string, w *fakeWriter) (*Collector, func()) {
	t.Helper()
	cfg := testConfig()
	cfg.URL = "tcp://" + addr
	cfg.ClientID = fmt.Sprintf("ready-test-%d", time.Now().UnixNano())
	cfg.ShareGroup = ""
	c, err := New(cfg, Deps{Registry: testRegistry(t), Writer: w, Now: func() time.Time { return testNow }}, discardLogger(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return c, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(failDeadline):
			t.Error("Run did not return after cancel")
		}
	}
}

// Ready follows the real connection: ready once subscribed, not ready
// while the broker is gone, ready again only after the reconnect and
// re-subscription; messages flow after it. Before the fix Ready stayed
// true from the first connect until Run returned.
func TestReadyFollowsConnection(t *testing.T) {
	addr := freeAddr(t)
	srv := startMochi(t, addr, new(auth.AllowHook))
	w := newFakeWriter()
	c, stop := startPahoCollector(t, addr, w)
	defer stop()
	waitFor(t, "ready after connect", func() bool { return c.Ready() == nil })

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "not ready after the broker stopped", func() bool { return c.Ready() != nil })
	if err := c.Ready(); !strings.Contains(err.Error(), "lost") && !strings.Contains(err.Error(), "connect") {
		t.Errorf("Ready() = %v, want it to say the connection is lost", err)
	}

	srv = startMochi(t, addr, new(auth.AllowHook))
	defer srv.Close()
	waitFor(t, "ready again after the broker restarted", func() bool { return c.Ready() == nil })

	// The new subscription is live: a published reading reaches Kafka.
	if err := srv.Publish(readingTopic(stA), payload(stA, 5, testNow.Add(-time.Minute), 1, "m"), false, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reading published after the restart in Kafka", func() bool { return len(w.written()) == 1 })
}

// A subscription the broker refuses (SUBACK 0x80, visible only in paho's
// token Result) leaves the collector not ready, says why, and is retried.
// Before the fix it was logged as "mqtt subscribed" and Ready was true.
func TestRefusedSubscriptionIsNotReady(t *testing.T) {
	addr := freeAddr(t)
	srv := startMochi(t, addr, new(refuseSubscribe))
	defer srv.Close()
	c, stop := startPahoCollector(t, addr, newFakeWriter())
	defer stop()
	waitFor(t, "a retried subscription refusal", func() bool {
		err := c.Ready()
		return err != nil && strings.Contains(err.Error(), "attempt 2")
	})
	err := c.Ready()
	if !strings.Contains(err.Error(), "refused by the broker (SUBACK 0x80)") {
		t.Errorf("Ready() = %v, want the refused subscription named", err)
	}
}

func TestCheckGranted(t *testing.T) {
	filters := []string{"a", "b"}
	cases := []struct {
		name    string
		granted map[string]byte
		want    string // "": nil
	}{
		{"both QoS 1", map[string]byte{"a": 1, "b": 1}, ""},
		{"QoS 2 is fine", map[string]byte{"a": 2, "b": 1}, ""},
		{"one refused", map[string]byte{"a": 1, "b": 0x80}, "mqtt subscribe b on tcp://x: refused by the broker (SUBACK 0x80)"},
		{"downgraded to QoS 0", map[string]byte{"a": 0, "b": 1}, "granted QoS 0"},
		{"missing", map[string]byte{"a": 1}, "no result"},
	}
	for _, tc := range cases {
		err := checkGranted(filters, tc.granted, "tcp://x")
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: checkGranted = %v, want %q", tc.name, err, tc.want)
		}
	}
}
