package processor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/processor/influxsink"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// countingWriter is an EventWriter that counts the bytes (key + value) it
// produces, by topic.
type countingWriter struct {
	inner EventWriter
	mu    sync.Mutex
	bytes map[string]int64
}

func (c *countingWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if err := c.inner.WriteMessages(ctx, msgs...); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.bytes[m.Topic] += int64(len(m.Key) + len(m.Value))
	}
	return nil
}

func (c *countingWriter) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, b := range c.bytes {
		n += b
	}
	return n
}

// benchInflux is an httptest InfluxDB write endpoint that accepts every
// write (gzip or not) and counts the lines.
func benchInflux(b *testing.B, rtt time.Duration) (*httptest.Server, *atomic.Int64) {
	var lines atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(rtt) // the server's write latency
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(data) > 0 {
			lines.Add(int64(bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) + 1))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &lines
}

// benchRegistry has n river gauges BENCH-0000… with alarm levels above
// the benchmark's calm readings.
func benchRegistry(b *testing.B, n int) *schemas.Registry {
	sts := make([]schemas.Station, n)
	for i := range sts {
		sts[i] = schemas.Station{ID: fmt.Sprintf("BENCH-%04d", i), Name: "bench", Basin: "b", District: "d", Lat: 16, Lon: 108,
			Interval: time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel}, AlarmLevelsM: schemas.Levels{I: 5, II: 5.5, III: 7}}
	}
	reg, err := schemas.NewRegistry(sts)
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// BenchmarkProcessorThroughput drains a backlog of 20,000 readings (one
// water level each, calm: no alert) from a 2-partition
// kfake cluster through the processor into the InfluxDB sink (influxsink
// against an httptest InfluxDB that accepts every write). One op is one
// drain by a fresh consumer group with an empty changelog; records/s is
// timed from Ready (group joined, state restored) until InfluxDB has every
// reading's point (ns/op includes the join and the wait for the commit of
// the end, which follows at the next snapshot). It reports records/s, allocs and bytes
// allocated per record, the process's CPU-seconds per 10,000 records
// (kfake and the httptest server included), and the Kafka bytes the processor writes (state
// changelog + alerts) per reading beside the size of a reading record.
// "1000st" is 1,000 stations × 20 readings with no added latency;
// "1000st-rtt" the same with 5 ms added to every produce and offset
// commit and 50 ms to every InfluxDB write (a loaded server), so the
// round trips per batch show; "100st" is 100 stations × 200 readings,
// so every batch touches every station of its partition and the states
// are larger (a typhoon: every gauge reporting often).
func BenchmarkProcessorThroughput(b *testing.B) {
	b.Run("1000st", func(b *testing.B) { benchThroughput(b, 1000, 20, 0, 0) })
	b.Run("1000st-rtt", func(b *testing.B) { benchThroughput(b, 1000, 20, 5*time.Millisecond, 50*time.Millisecond) })
	b.Run("100st", func(b *testing.B) { benchThroughput(b, 100, 200, 0, 0) })
}

func benchThroughput(b *testing.B, stations, perStation int, kafkaRTT, influxRTT time.Duration) {
	const parts = 2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv, lines := benchInflux(b, influxRTT)
	reg := benchRegistry(b, stations)
	b.Setenv("RESILIENCE_INFLUX_TOKEN", "bench")
	icfg := influxsink.DefaultConfig()
	icfg.URL, icfg.SpoolDir, icfg.Timeout = srv.URL, b.TempDir(), 30*time.Second
	sink, err := influxsink.New(icfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	records := make([]kafka.Message, 0, stations*perStation)
	var readingBytes int64
	for seq := uint64(1); seq <= uint64(perStation); seq++ {
		for s := 0; s < stations; s++ {
			id := fmt.Sprintf("BENCH-%04d", s)
			rec := schemas.Record{V: 1, Station: id, Seq: seq, TS: base.Add(time.Duration(seq) * time.Minute),
				Readings:   []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 3 + 0.001*float64(seq), Unit: "m"}},
				ReceivedAt: base.Add(time.Duration(seq) * time.Minute)}
			v, err := json.Marshal(rec)
			if err != nil {
				b.Fatal(err)
			}
			readingBytes += int64(len(id) + len(v))
			records = append(records, kafka.Message{Key: []byte(id), Value: v})
		}
	}
	total := int64(len(records))
	var elapsed time.Duration
	var written int64
	var mallocs, allocBytes uint64
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		topics := schemas.Topics(fmt.Sprintf("bench%d.", i))
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topics.Readings, topics.Alerts, topics.State))
		if err != nil {
			b.Fatal(err)
		}
		var slow atomic.Bool
		for _, key := range []int16{kmsg.Produce.Int16(), kmsg.OffsetCommit.Int16()} {
			c.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if slow.Load() && kafkaRTT > 0 {
					c.SleepControl(func() { time.Sleep(kafkaRTT) })
				}
				return nil, nil, false
			})
		}
		brokers := c.ListenAddrs()
		kw := kafkax.NewWriter(kafkax.WriterOptions{Brokers: brokers})
		msgs := make([]kafka.Message, len(records))
		for j, m := range records {
			msgs[j] = kafka.Message{Topic: topics.Readings, Key: m.Key, Value: m.Value}
		}
		if err := kw.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		cl, closeCl := kafkax.NewClient(brokers, nil)
		engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
		if err != nil {
			b.Fatal(err)
		}
		cw := &countingWriter{inner: kw, bytes: map[string]int64{}}
		cfg := DefaultConfig()
		cfg.Group, cfg.SessionTimeout = "bench", 6*time.Second
		p, err := New(cfg, Deps{Brokers: brokers, Registry: reg, Engine: engine, Points: sink, Writer: cw, Topics: topics},
			slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		before := lines.Load()
		slow.Store(true)
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0 := cpuTime()
		b.StartTimer()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(runCtx) }()
		// The drain starts once the group is joined and the state
		// restored (Ready); joining is not the processor's throughput.
		for p.Ready() != nil {
			select {
			case <-ctx.Done():
				b.Fatal("the processor did not get ready")
			case <-time.After(time.Millisecond):
			}
		}
		start := time.Now()
		for lines.Load()-before < total {
			select {
			case <-ctx.Done():
				b.Fatal("the drain did not finish")
			case <-time.After(time.Millisecond):
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		runtime.ReadMemStats(&ms1)
		mallocs += ms1.Mallocs - ms0.Mallocs
		allocBytes += ms1.TotalAlloc - ms0.TotalAlloc
		// The commit follows at the next snapshot (snapshot_interval).
		for !benchDrained(ctx, cl, "bench", topics.Readings, parts, total) {
			select {
			case <-ctx.Done():
				b.Fatal("the end was not committed")
			case <-time.After(5 * time.Millisecond):
			}
		}
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		written += cw.total()
		closeCl()
		kw.Close()
		c.Close()
	}
	n := float64(b.N) * float64(total)
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(mallocs)/n, "allocs/record")
	b.ReportMetric(float64(allocBytes)/n, "B-alloc/record")
	b.ReportMetric(cpu.Seconds()/n*10000, "cpu-s/10k-records")
	b.ReportMetric(float64(written)/n, "kafka-B/reading")
	b.ReportMetric(float64(readingBytes)/float64(total), "B/reading-record")
}

// benchDrained reports whether group has committed the end (total records
// over parts partitions) of topic.
func benchDrained(ctx context.Context, cl *kafka.Client, group, topic string, parts int, total int64) bool {
	ids := make([]int, parts)
	for i := range ids {
		ids[i] = i
	}
	res, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil || res.Error != nil {
		return false
	}
	var sum int64
	for _, p := range res.Topics[topic] {
		if p.CommittedOffset > 0 {
			sum += p.CommittedOffset
		}
	}
	return sum >= total
}

// cpuTime is the process's user + system CPU time so far (the in-process
// kfake cluster and httptest InfluxDB included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
