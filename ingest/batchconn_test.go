package ingest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes and reads that reach the socket.
type countingConn struct {
	net.Conn
	writes, reads atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// tcpPair is a connected loopback TCP pair: the client side counted.
func tcpPair(t *testing.T) (*countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-acc
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return &countingConn{Conn: c}, s
}

// pubacks are n 4-byte PUBACKs with distinct packet ids.
func pubacks(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte{0x40, 0x02, byte(i >> 8), byte(i)}
	}
	return out
}

// TestBatchConnGathersWrites: 500 PUBACKs written one by one reach the
// socket in 2 writes (one when 1,024 bytes wait, one at Close), in order
// and complete. (The delay is an hour: only the size and Close send.)
func TestBatchConnGathersWrites(t *testing.T) {
	raw, peer := tcpPair(t)
	b := newBatchConn(raw, time.Hour, 1024)
	var want bytes.Buffer
	for _, p := range pubacks(500) {
		n, err := b.Write(p)
		if err != nil || n != len(p) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		want.Write(p)
	}
	if got := raw.writes.Load(); got != 1 {
		t.Fatalf("%d socket writes before Close, want 1 (at 1,024 bytes)", got)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := raw.writes.Load(); got != 2 {
		t.Fatalf("%d socket writes after Close, want 2", got)
	}
	_ = peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("peer read %d bytes, want the %d written in order", len(got), want.Len())
	}
	if _, err := b.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// TestBatchConnSendsAfterTheDelay: a lone packet is sent without any
// further write (the timer sends it), and one over the size at once.
func TestBatchConnSendsAfterTheDelay(t *testing.T) {
	raw, peer := tcpPair(t)
	b := newBatchConn(raw, time.Millisecond, 1024)
	defer b.Close()
	ping := []byte{0xc0, 0x00}
	if _, err := b.Write(ping); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, len(ping))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, ping) {
		t.Fatalf("peer read %x, %v; want the PINGREQ %x", got, err, ping)
	}
	big := bytes.Repeat([]byte{7}, 2048)
	if _, err := b.Write(big); err != nil {
		t.Fatal(err)
	}
	if got := raw.writes.Load(); got != 2 {
		t.Fatalf("%d socket writes, want 2 (the timer's, then the oversize write at once)", got)
	}
	got = make([]byte, len(big))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("peer read %d bytes, %v; want the 2,048 written", len(got), err)
	}
}

// TestBatchConnFailedSendIsReported: when the timer's send fails, the
// connection is closed (paho's reader sees it lost) and every later
// Write returns the error.
func TestBatchConnFailedSendIsReported(t *testing.T) {
	raw, _ := tcpPair(t)
	b := newBatchConn(raw, time.Millisecond, 1024)
	defer b.Close()
	_ = raw.Conn.Close() // the socket fails under the batchConn
	if _, err := b.Write([]byte{0x40, 0x02, 0, 1}); err != nil {
		t.Fatalf("first Write = %v, want it queued", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		_, err = b.Write([]byte{0x40, 0x02, 0, 2})
	}
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after a failed send = %v, want the send's error (net.ErrClosed)", err)
	}
	buf := make([]byte, 1)
	if _, rerr := b.Read(buf); rerr == nil {
		t.Fatal("Read succeeded on a connection whose send failed")
	}
}

// TestBatchConnReadsAhead: paho reads a packet as its type byte, its
// length byte and its body. 1,000 PUBACKs read so take a few socket
// reads, not 3,000, and come out intact.
func TestBatchConnReadsAhead(t *testing.T) {
	raw, peer := tcpPair(t)
	b := newBatchConn(raw, time.Millisecond, 1024)
	defer b.Close()
	var sent bytes.Buffer
	for _, p := range pubacks(1000) {
		sent.Write(p)
	}
	if _, err := peer.Write(sent.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got bytes.Buffer
	for i := 0; i < 1000; i++ {
		head := make([]byte, 1)
		if _, err := io.ReadFull(b, head); err != nil {
			t.Fatalf("packet %d type: %v", i, err)
		}
		n := make([]byte, 1)
		if _, err := io.ReadFull(b, n); err != nil {
			t.Fatalf("packet %d length: %v", i, err)
		}
		body := make([]byte, n[0])
		if _, err := io.ReadFull(b, body); err != nil {
			t.Fatalf("packet %d body: %v", i, err)
		}
		got.Write(head)
		got.Write(n)
		got.Write(body)
	}
	if !bytes.Equal(got.Bytes(), sent.Bytes()) {
		t.Fatal("the packets read differ from those sent")
	}
	if r := raw.reads.Load(); r > 100 {
		t.Fatalf("%d socket reads for 3,000 small reads of 4,000 bytes, want a few (read-ahead)", r)
	}
}

// TestBatchable: the schemes openBatchConn dials.
func TestBatchable(t *testing.T) {
	for url, want := range map[string]bool{
		"tcp://127.0.0.1:1883": true, "mqtt://broker:1883": true, "ssl://broker:8883": true,
		"tls://broker:8883": true, "mqtts://broker:8883": true,
		"ws://broker:80/mqtt": false, "wss://broker:443/mqtt": false, "://bad": false,
	} {
		if got := batchable(url); got != want {
			t.Errorf("batchable(%q) = %v, want %v", url, got, want)
		}
	}
}
