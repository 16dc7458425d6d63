package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
)

// countProxy is a reverse proxy in front of InfluxDB that counts the lines
// of one measurement in every write (/api/v2/write) InfluxDB accepted with
// a 2xx, per bucket: what a drainer has durably written, observed the same
// way for Telegraf and the processor.
type countProxy struct {
	measurement string
	srv         *http.Server
	ln          net.Listener
	// counts is fixed at construction (bucket -> lines), so the handlers
	// read it without a lock.
	counts map[string]*atomic.Int64
}

// newCountProxy listens on 127.0.0.1:0 and forwards to upstream; buckets
// are the buckets whose lines are counted.
func newCountProxy(upstream, measurement string, buckets ...string) (*countProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("influx proxy: upstream %q: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("influx proxy: %w", err)
	}
	p := &countProxy{measurement: measurement, ln: ln, counts: map[string]*atomic.Int64{}}
	for _, b := range buckets {
		p.counts[b] = new(atomic.Int64)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: p.handler(rp)}
	go p.srv.Serve(ln) //nolint:errcheck // ends with Close
	return p, nil
}

// handler counts the lines of successful writes to a counted bucket.
func (p *countProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := p.counts[r.URL.Query().Get("bucket")]
		if r.URL.Path != "/api/v2/write" || c == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status/100 != 2 {
			return
		}
		n, err := countLines(body, r.Header.Get("Content-Encoding") == "gzip", p.measurement)
		if err == nil {
			c.Add(n)
		}
	})
}

// Count is the number of counted lines written to bucket so far.
func (p *countProxy) Count(bucket string) int64 {
	if c := p.counts[bucket]; c != nil {
		return c.Load()
	}
	return 0
}

// URL is the proxy's base URL.
func (p *countProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *countProxy) Close() error { return p.srv.Close() }

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// countLines counts the line-protocol lines of measurement in body
// (gzip-compressed if gz); comments and empty lines do not count.
func countLines(body []byte, gz bool, measurement string) (int64, error) {
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return 0, fmt.Errorf("influx proxy: gzip: %w", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return 0, fmt.Errorf("influx proxy: gzip: %w", err)
		}
	}
	var n int64
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, measurement); ok && (strings.HasPrefix(rest, ",") || strings.HasPrefix(rest, " ")) {
			n++
		}
	}
	return n, nil
}
