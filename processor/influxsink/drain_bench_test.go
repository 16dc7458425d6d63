package influxsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDrain measures the spool drain against an httptest InfluxDB
// write endpoint that gunzips and counts every line: a backlog of 60
// batches of 1,000 reading points (one minute at 1,000 readings/s) per
// iteration. It reports points/s: at 1,000 readings/s a 10-minute outage
// leaves 600,000 points, so anything far above 1,000 points/s drains it
// within minutes while new readings keep arriving.
func BenchmarkDrain(b *testing.B) {
	var lines atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		lines.Add(int64(bytes.Count(body, []byte("\n")) + 1))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	const batches, perBatch = 60, 1000
	payload := make([][]byte, batches)
	for i := range payload {
		var buf bytes.Buffer
		for j := 0; j < perBatch; j++ {
			ts := int64(1793155800000) + int64(i*perBatch+j)
			fmt.Fprintf(&buf, "reading,basin=VuGia,district=DaiLoc,sensor=water_level,station=VG-ST%03d value=%d.%03d,seq=%di,quality=1i,late=false %d\n",
				j%200, j%10, j, i*perBatch+j, ts)
		}
		payload[i] = buf.Bytes()
	}
	spool := b.TempDir()
	cfg := DefaultConfig()
	cfg.URL = srv.URL
	cfg.SpoolDir = spool
	cfg.Timeout = 30 * time.Second
	b.Setenv("RESILIENCE_INFLUX_TOKEN", "bench")
	s, err := New(cfg, discard(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var drained time.Duration
	for b.Loop() {
		b.StopTimer()
		for _, p := range payload {
			if err := s.toSpool(p); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		for s.spooled.Load() > 0 {
			if err := s.drain(ctx); err != nil {
				b.Fatal(err)
			}
		}
		drained += time.Since(start)
	}
	if got, want := lines.Load(), int64(b.N*batches*perBatch); got != want {
		b.Fatalf("InfluxDB received %d points, want %d", got, want)
	}
	b.ReportMetric(float64(b.N*batches*perBatch)/drained.Seconds(), "points/s")
}
