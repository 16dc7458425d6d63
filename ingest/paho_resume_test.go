package ingest

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// gateWait bounds the gates below when what they wait for never happens
// (after the fix): it only slows the test down, it decides nothing.
const gateWait = 2 * time.Second

// gatedStore is paho's memory store holding paho's resume (the All after
// a connect; the first All, before connecting, is not held) until a
// SUBSCRIBE was stored, and telling when resume read it back: the race of
// paho's ResumeSubs with our own subscribe, every time instead of now and
// then (chaos F14, issue 7: "no result in the SUBACK" after a restart).
type gatedStore struct {
	mqtt.Store
	alls      atomic.Int32
	subPut    chan struct{} // closed when a SUBSCRIBE is stored
	subLoaded chan struct{} // closed when one is read back
	putOnce   sync.Once
	getOnce   sync.Once
}

func newGatedStore() *gatedStore {
	return &gatedStore{Store: mqtt.NewMemoryStore(), subPut: make(chan struct{}), subLoaded: make(chan struct{})}
}

func (s *gatedStore) Put(key string, m pahopackets.ControlPacket) {
	s.Store.Put(key, m)
	if _, ok := m.(*pahopackets.SubscribePacket); ok {
		s.putOnce.Do(func() { close(s.subPut) })
	}
}

func (s *gatedStore) All() []string {
	if s.alls.Add(1) > 1 {
		select {
		case <-s.subPut:
		case <-time.After(gateWait):
		}
	}
	return s.Store.All()
}

func (s *gatedStore) Get(key string) pahopackets.ControlPacket {
	m := s.Store.Get(key)
	if _, ok := m.(*pahopackets.SubscribePacket); ok {
		s.getOnce.Do(func() { close(s.subLoaded) })
	}
	return m
}

// holdSuback is a mochi hook that lets every client in and answers a
// SUBSCRIBE only once until is closed (or gateWait passed).
type holdSuback struct {
	mochi.HookBase
	until <-chan struct{}
}

func (h *holdSuback) ID() string { return "hold-suback" }
func (h *holdSuback) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSubscribe}, []byte{b})
}
func (h *holdSuback) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }
func (h *holdSuback) OnACLCheck(*mochi.Client, string, bool) bool              { return true }
func (h *holdSuback) OnSubscribe(_ *mochi.Client, pk packets.Packet) packets.Packet {
	select {
	case <-h.until:
	case <-time.After(gateWait):
	}
	return pk
}

// syncBuffer is a log sink safe for paho's and the subscriber's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first subscription on a persistent session is granted at the first
// attempt. Before the fix paho's ResumeSubs stored our SUBSCRIBE and its
// resume, running concurrently with the on-connect handler, sent it again
// under the same packet id, completing our token without a result: "no
// result in the SUBACK", the collector not ready and retrying (chaos F14,
// ingest-2 after its restart).
func TestFirstSubscribeOnPersistentSessionIsGranted(t *testing.T) {
	store := newGatedStore()
	addr := freeAddr(t)
	srv := startMochi(t, addr, &holdSuback{until: store.subLoaded})
	defer srv.Close()

	cfg := testConfig()
	cfg.URL = "tcp://" + addr
	cfg.ClientID = fmt.Sprintf("resume-test-%d", time.Now().UnixNano())
	var logs syncBuffer
	cl, err := NewPahoClient(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := cl.(*pahoClient)
	p.store = store
	if err := p.Connect(t.Context(), []string{"stations/+/readings"}, func(Message) {}); err != nil {
		t.Fatal(err)
	}
	defer p.Disconnect()
	waitFor(t, "subscribed", func() bool { return p.Status() == nil || strings.Contains(logs.String(), "subscribe failed") })
	if out := logs.String(); strings.Contains(out, "subscribe failed") {
		t.Errorf("the first subscription failed:\n%s", out)
	}
}
