package ingest

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkQuietStationDelayUnderFlood measures how long a quiet station's
// message takes from the MQTT handler to its acknowledgement (after Kafka
// took its record) while another station floods at 10,000 msg/s, with the
// default station share (20/s, burst 200) and an instant fake Kafka: the
// collector's own queueing delay. ns/op is the mean delay; delay-p99-ns and
// delay-max-ns the tail; flood-msg/s the flood rate actually achieved by
// the driver on this machine. The quiet station sends one message per 60 ms
// (within its share); the driver delivers both streams from one goroutine,
// as paho does.
func BenchmarkQuietStationDelayUnderFlood(b *testing.B) {
	cfg := DefaultConfig()
	cfg.URL = "tcp://127.0.0.1:1883"
	w := newFakeWriter()
	client := newFakeClient()
	c, err := New(cfg, Deps{Registry: testRegistry(b), Writer: w,
		NewClient: func(Config, *slog.Logger) (Client, error) { return client, nil }}, discardLogger(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-client.connected

	quietReq := make(chan *fakeMsg)
	stopFlood := make(chan struct{})
	floodDone := make(chan int)
	go func() { // the MQTT dispatch goroutine: flood at 10/ms, quiet on request
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		sent, seq := 0, uint64(0)
		for {
			select {
			case m := <-quietReq:
				client.deliver(m)
			case <-tick.C:
				for range 10 {
					seq++
					client.deliver(newMsg(readingTopic(stA), payload(stA, seq, time.Now().Add(-time.Second), 1, "m")))
					sent++
				}
			case <-stopFlood:
				floodDone <- sent
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // let the flood exhaust stA's burst
	floodStart := time.Now()
	delays := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		m := newMsg(readingTopic(stB), payload(stB, uint64(i+1), time.Now().Add(-time.Second), 1, "m"))
		start := time.Now()
		quietReq <- m
		select {
		case <-m.acked:
		case <-time.After(failDeadline):
			b.Fatalf("quiet message %d not acknowledged", i)
		}
		delays = append(delays, time.Since(start))
		time.Sleep(60 * time.Millisecond)
	}
	b.StopTimer()
	close(stopFlood)
	sent := <-floodDone
	elapsed := time.Since(floodStart) + 500*time.Millisecond
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	slices.Sort(delays)
	var sum time.Duration
	for _, d := range delays {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(delays)), "ns/op")
	b.ReportMetric(float64(delays[len(delays)*99/100].Nanoseconds()), "delay-p99-ns")
	b.ReportMetric(float64(delays[len(delays)-1].Nanoseconds()), "delay-max-ns")
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "flood-msg/s")
}
