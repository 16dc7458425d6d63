package embedded

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

func openStore(t *testing.T, path string, interval time.Duration, maxPending int) *storeHook {
	t.Helper()
	h := newStoreHook(storeOptions{Path: path, FlushInterval: interval, MaxPending: maxPending})
	h.SetOpts(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := h.Init(nil); err != nil {
		t.Fatal(err)
	}
	return h
}

func commits(t *testing.T, h *storeHook) int {
	t.Helper()
	var id int
	if err := h.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func qos1(id int) packets.Packet {
	return packets.Packet{PacketID: uint16(id), FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName: "stations/VG-AINGHIA/readings", Payload: []byte(fmt.Sprintf(`{"seq":%d}`, id)), Created: 1}
}

func TestStoreWritesBehind(t *testing.T) {
	cl := &mqtt.Client{ID: "collector-1"}
	tests := []struct {
		name              string
		publish, complete int // in-flight messages stored, then acknowledged
		maxPending        int
		wantStored        int
		wantMinCommits    int // after Init
		wantMaxCommits    int
	}{
		// mochi's bolt hook: 2,000 commits. One window: one commit.
		{"one window coalesces into one commit", 1000, 990, 1 << 20, 10, 1, 1},
		{"nothing pending: no commit", 0, 0, 1 << 20, 0, 0, 0},
		// A full map makes the writer wait for a flush instead of growing.
		{"max pending flushes early", 100, 0, 10, 100, 10, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := openStore(t, filepath.Join(t.TempDir(), "mqtt.db"), time.Hour, tc.maxPending)
			defer h.Stop()
			before := commits(t, h)
			for i := 1; i <= tc.publish; i++ {
				h.OnQosPublish(cl, qos1(i), 1, 0)
			}
			for i := 1; i <= tc.complete; i++ {
				h.OnQosComplete(cl, qos1(i))
			}
			if err := h.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if n := commits(t, h) - before; n < tc.wantMinCommits || n > tc.wantMaxCommits {
				t.Errorf("%d commits, want %d..%d", n, tc.wantMinCommits, tc.wantMaxCommits)
			}
			got, err := h.StoredInflightMessages()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantStored {
				t.Errorf("%d in-flight messages stored, want %d", len(got), tc.wantStored)
			}
		})
	}
}

// A clean stop writes what is pending; afterwards changes are ignored and
// Flush says the store is closed.
func TestStoreStopFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.db")
	cl := &mqtt.Client{ID: "collector-1"}
	h := openStore(t, path, time.Hour, 1<<20)
	h.OnSubscribed(cl, packets.Packet{Filters: packets.Subscriptions{{Filter: "$share/resilience/stations/+/readings", Qos: 1}}}, []byte{1})
	for i := 1; i <= 3; i++ {
		h.OnQosPublish(cl, qos1(i), 1, 0)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	h.OnQosPublish(cl, qos1(4), 1, 0) // after Stop: ignored, no panic
	if err := h.Flush(); !errors.Is(err, errStoreClosed) {
		t.Errorf("Flush after Stop = %v, want errStoreClosed", err)
	}
	if err := h.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	h2 := openStore(t, path, time.Hour, 1<<20)
	defer h2.Stop()
	msgs, err := h2.StoredInflightMessages()
	if err != nil {
		t.Fatal(err)
	}
	subs, err := h2.StoredSubscriptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || len(subs) != 1 || subs[0].Filter != "$share/resilience/stations/+/readings" {
		t.Errorf("after reopen: %d in-flight messages (want 3), subscriptions %+v (want the shared one)", len(msgs), subs)
	}
}

// Writers on many goroutines (mochi calls the hooks from every client's
// read goroutine) while the flusher runs; run with -race.
func TestStoreConcurrentWriters(t *testing.T) {
	h := openStore(t, filepath.Join(t.TempDir(), "mqtt.db"), time.Millisecond, 64)
	defer h.Stop()
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := &mqtt.Client{ID: fmt.Sprintf("client-%d", c)}
			for i := 1; i <= 500; i++ {
				h.OnQosPublish(cl, qos1(i), 1, 0)
				if i%2 == 0 {
					h.OnQosComplete(cl, qos1(i))
				}
			}
		}(c)
	}
	wg.Wait()
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := h.StoredInflightMessages()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4*250 {
		t.Errorf("%d in-flight messages stored, want %d", len(got), 4*250)
	}
}

// A data directory written by earlier versions, with mochi's bolt hook,
// loads: same bucket, keys and encoding.
func TestStoreReadsMochiBoltFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.db")
	old := new(bolt.Hook)
	old.SetOpts(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := old.Init(&bolt.Options{Path: path, Options: &bbolt.Options{Timeout: time.Second}}); err != nil {
		t.Fatal(err)
	}
	cl := &mqtt.Client{ID: "collector-1"}
	old.OnSubscribed(cl, packets.Packet{Filters: packets.Subscriptions{{Filter: "stations/+/readings", Qos: 1}}}, []byte{1})
	old.OnQosPublish(cl, qos1(7), 1, 0)
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}

	h := openStore(t, path, time.Hour, 1<<20)
	defer h.Stop()
	msgs, err := h.StoredInflightMessages()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].PacketID != 7 || string(msgs[0].Payload) != `{"seq":7}` || msgs[0].Client != "collector-1" {
		t.Errorf("in-flight messages from mochi's bolt file: %+v", msgs)
	}
	subs, err := h.StoredSubscriptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Filter != "stations/+/readings" {
		t.Errorf("subscriptions from mochi's bolt file: %+v", subs)
	}
}

// countingRecord counts its encodings.
type countingRecord struct {
	calls *int
	b     []byte
}

func (c countingRecord) MarshalBinary() ([]byte, error) { *c.calls++; return c.b, nil }
func (c countingRecord) UnmarshalBinary([]byte) error   { return nil }

// TestStoreEncodesAtFlush: a message stored and acknowledged within one
// window is never encoded; one still in flight is encoded once, at the
// flush, and stored.
func TestStoreEncodesAtFlush(t *testing.T) {
	h := openStore(t, filepath.Join(t.TempDir(), "mqtt.db"), time.Hour, 1<<20)
	defer h.Stop()
	var acked, kept int
	h.put("if_acked", countingRecord{calls: &acked, b: []byte("a")})
	h.del("if_acked")
	h.put("if_kept", countingRecord{calls: &kept, b: []byte("k")})
	if acked != 0 || kept != 0 {
		t.Fatalf("encoded before the flush: acked %d, kept %d times", acked, kept)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if acked != 0 || kept != 1 {
		t.Errorf("encoded: acked %d times (want 0), kept %d (want 1)", acked, kept)
	}
	var got []byte
	if err := h.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(storeBucket))
		if v := b.Get([]byte("if_acked")); v != nil {
			t.Errorf("the acknowledged message was stored: %q", v)
		}
		got = append(got, b.Get([]byte("if_kept"))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "k" {
		t.Errorf("stored %q, want %q", got, "k")
	}
}
