package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// TCPProxy forwards loopback TCP connections to an upstream address and
// can black-hole them (bytes stop flowing both ways, connections stay
// open, as when a link drops packets) or delay every chunk.
type TCPProxy struct {
	ln       net.Listener
	upstream string
	hole     atomic.Bool
	delay    atomic.Int64 // ns per forwarded chunk
	mu       sync.Mutex
	cond     *sync.Cond
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// NewTCPProxy listens on 127.0.0.1:0 and forwards to upstream.
func NewTCPProxy(upstream string) (*TCPProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("harness: proxy listen: %w", err)
	}
	p := &TCPProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listen address.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Blackhole starts (true) or ends (false) the black hole. While it lasts
// new connections are accepted but not forwarded and no byte moves on
// existing ones; afterwards the held bytes flow (TCP retransmission).
func (p *TCPProxy) Blackhole(on bool) {
	p.mu.Lock()
	p.hole.Store(on)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// SetDelay delays every forwarded chunk by d (0: none).
func (p *TCPProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// gate blocks while the black hole lasts; false when the proxy closed.
func (p *TCPProxy) gate() bool {
	p.mu.Lock()
	for p.hole.Load() && !p.closed.Load() {
		p.cond.Wait()
	}
	p.mu.Unlock()
	if d := p.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return !p.closed.Load()
}

func (p *TCPProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed.Load() {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *TCPProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer func() { c.Close(); p.track(c, false) }()
	if !p.gate() {
		return
	}
	u, err := net.DialTimeout("tcp", p.upstream, 10*time.Second)
	if err != nil {
		return
	}
	if !p.track(u, true) {
		u.Close()
		return
	}
	defer func() { u.Close(); p.track(u, false) }()
	done := make(chan struct{}, 2)
	go func() { p.pipe(u, c); done <- struct{}{} }()
	go func() { p.pipe(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
}

// pipe copies src to dst chunk by chunk through the gate.
func (p *TCPProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if !p.gate() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *TCPProxy) Close() error {
	p.mu.Lock()
	p.closed.Store(true)
	p.cond.Broadcast()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// HTTPProxy is a reverse proxy in front of an HTTP server (InfluxDB) that
// can delay every request or answer 503 Service Unavailable.
type HTTPProxy struct {
	srv     *http.Server
	ln      net.Listener
	delay   atomic.Int64
	refuse  atomic.Bool
	served  atomic.Int64
	refused atomic.Int64
	onWrite atomic.Pointer[func()]
	done    chan struct{}
}

// NewHTTPProxy listens on 127.0.0.1:0 and forwards to upstream (a URL).
func NewHTTPProxy(upstream string) (*HTTPProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("harness: proxy upstream %q: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("harness: proxy listen: %w", err)
	}
	p := &HTTPProxy{ln: ln, done: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path == "/api/v2/write" && resp.StatusCode/100 == 2 {
			if f := p.onWrite.Swap(nil); f != nil {
				(*f)() // the write is in InfluxDB; its client has not heard so yet
			}
		}
		return nil
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := p.delay.Load(); d > 0 {
			select {
			case <-time.After(time.Duration(d)):
			case <-r.Context().Done():
				return
			}
		}
		if p.refuse.Load() {
			p.refused.Add(1)
			io.Copy(io.Discard, r.Body)
			http.Error(w, `{"code":"unavailable","message":"chaos: service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		p.served.Add(1)
		rp.ServeHTTP(w, r)
	})}
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	return p, nil
}

// URL is the proxy's base URL.
func (p *HTTPProxy) URL() string { return "http://" + p.ln.Addr().String() }

// SetDelay delays every request by d before it is forwarded (or refused).
func (p *HTTPProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refuse makes every request answer 503 (true) or be forwarded (false).
func (p *HTTPProxy) Refuse(on bool) { p.refuse.Store(on) }

// OnNextWrite runs f once, after the next write InfluxDB accepted and
// before its answer is passed on: e.g. to kill the writer between the
// write and whatever it does after the write.
func (p *HTTPProxy) OnNextWrite(f func()) { p.onWrite.Store(&f) }

// Counts returns the requests forwarded and refused so far.
func (p *HTTPProxy) Counts() (served, refused int64) { return p.served.Load(), p.refused.Load() }

// Close stops the proxy.
func (p *HTTPProxy) Close() error {
	err := p.srv.Close()
	<-p.done
	return err
}
