package ingest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// The collector acknowledges a Kafka batch at once: hundreds of PUBACKs,
// which paho writes with one Write (one syscall) each, a quarter of the
// collector's CPU under load. And paho reads each packet with three or
// four Reads (the type byte, the length a byte at a time, the rest).
// batchConn gathers the writes of a burst into one and reads ahead.
const (
	// readBuffer is the read-ahead: many PUBLISH packets per syscall.
	readBuffer = 32 << 10
	// batchDelay is the longest a written packet waits to be sent.
	batchDelay = time.Millisecond
	// batchBytes sends the gathered packets at once when reached.
	batchBytes = 16 << 10
	// closeFlushTimeout bounds the last send at Close (a black-holed
	// broker must not hold the disconnect).
	closeFlushTimeout = time.Second
)

// batchConn is a net.Conn whose writes are gathered and sent together:
// batchDelay after the first unsent byte, or at once when batchBytes are
// waiting, in the order written. Reads go through a readBuffer
// read-ahead (paho reads from one goroutine).
//
// Write never fails for the packet it is given unless an earlier send
// failed: a failed send closes the connection (so paho's reader sees it
// lost and reconnects) and every later Write returns its error. A packet
// that never left is, for the broker, an unacknowledged message: it
// redelivers it, a duplicate the processor recognises, never a loss.
type batchConn struct {
	net.Conn
	r     *bufio.Reader
	delay time.Duration
	max   int

	mu    sync.Mutex
	buf   []byte
	armed bool  // the timer will send buf
	err   error // the first failed send
	timer *time.Timer
}

func newBatchConn(c net.Conn, delay time.Duration, maxBytes int) *batchConn {
	b := &batchConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer), delay: delay, max: maxBytes}
	b.timer = time.AfterFunc(time.Hour, b.onTimer)
	b.timer.Stop()
	return b
}

// Read reads from the read-ahead.
func (b *batchConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// Write queues p; see the type's contract.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= b.max {
		if err := b.sendLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(b.delay)
	}
	return len(p), nil
}

func (b *batchConn) onTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.armed || b.err != nil {
		return
	}
	if err := b.sendLocked(); err != nil {
		_ = b.Conn.Close() // the reader fails: paho reconnects
	}
}

// sendLocked writes what is gathered; b.mu is held.
func (b *batchConn) sendLocked() error {
	b.armed = false
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	if err != nil {
		b.err = fmt.Errorf("mqtt: send to %s: %w", b.RemoteAddr(), err)
	}
	return b.err
}

// Close sends what is gathered (within closeFlushTimeout) and closes.
func (b *batchConn) Close() error {
	b.mu.Lock()
	b.timer.Stop()
	if b.err == nil && len(b.buf) > 0 {
		_ = b.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		_ = b.sendLocked()
	}
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.mu.Unlock()
	return b.Conn.Close()
}

// openBatchConn is paho's OpenConnectionFunc for the tcp and TLS schemes:
// it dials as paho would and wraps the connection in a batchConn.
func openBatchConn(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	var c net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts":
		c, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	default:
		return nil, fmt.Errorf("mqtt: scheme %q of %s has no batched connection", uri.Scheme, uri.Redacted())
	}
	if err != nil {
		return nil, err
	}
	return newBatchConn(c, batchDelay, batchBytes), nil
}

// batchable reports whether openBatchConn dials the broker URL's scheme
// (the websocket schemes keep paho's own connection).
func batchable(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
		return true
	}
	return false
}
