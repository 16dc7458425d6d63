package nflog_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/resilience-project/resilience/alerts/nflog"
)

// BenchmarkOutbox measures one notification through the log: the intent and
// the sent record, each durable before the call returns (reported as
// notifications/s).
func BenchmarkOutbox(b *testing.B) {
	ctx := context.Background()
	for _, bk := range []struct {
		name string
		open func(b *testing.B) nflog.Log
	}{
		{"kafka", func(b *testing.B) nflog.Log {
			c := newCluster(b)
			l, err := nflog.OpenKafka(ctx, nflog.KafkaOptions{Brokers: c.ListenAddrs()})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"file", func(b *testing.B) nflog.Log {
			l, err := nflog.OpenFile(filepath.Join(b.TempDir(), "nflog.jsonl"), 0)
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
	} {
		b.Run(bk.name, func(b *testing.B) {
			l := bk.open(b)
			defer l.Close()
			payload := make([]byte, 1024)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				id := strconv.Itoa(i)
				e := nflog.Entry{ID: id, Target: "duty/webhook[0]", Members: []string{nflog.Member("A", id)}, At: t0, Payload: payload}
				if err := l.Intend(ctx, e); err != nil {
					b.Fatal(err)
				}
				if err := l.MarkSent(ctx, id, t0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
		})
	}
}
