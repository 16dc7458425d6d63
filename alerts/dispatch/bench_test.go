package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/resilience-project/resilience/alerts/dispatch"
	"github.com/resilience-project/resilience/alerts/nflog"
	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/webhook"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/schemas"
)

// BenchmarkEventToWebhook measures the latency the dispatcher adds from
// Submit of an alert event (group_wait 0) to the webhook receiver getting
// the signed request, through the notification log's intent (fsynced file,
// or a kfake topic). It reports p50 and p99 in ms.
func BenchmarkEventToWebhook(b *testing.B) {
	for _, backend := range []string{"file", "kafka"} {
		b.Run(backend, func(b *testing.B) {
			got := make(chan string, 16)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body webhook.Body
				raw, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(raw, &body); err == nil && len(body.Alerts) > 0 {
					got <- body.Alerts[0].ID
				}
			}))
			defer srv.Close()
			var l nflog.Log
			if backend == "file" {
				f, err := nflog.OpenFile(filepath.Join(b.TempDir(), "nflog.jsonl"), 0)
				if err != nil {
					b.Fatal(err)
				}
				l = f
			} else {
				c, err := kfake.NewCluster(kfake.NumBrokers(1))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				k, err := nflog.OpenKafka(context.Background(), nflog.KafkaOptions{Brokers: c.ListenAddrs()})
				if err != nil {
					b.Fatal(err)
				}
				l = k
			}
			defer l.Close()
			ch, err := webhook.New(webhook.Config{Name: "webhook[0]", URL: srv.URL, Secret: []byte("0123456789abcdef")})
			if err != nil {
				b.Fatal(err)
			}
			tr := tree(b, immediate)
			d, err := dispatch.New(dispatch.Config{Routes: func() *route.Tree { return tr }, Log: l,
				Channels: map[string][]notify.Channel{"duty": {ch}}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("A%d", i)
				start := time.Now()
				d.Submit(event(id, fmt.Sprintf("S-%d", i), "level:water_level", schemas.AlertFired, 2, 0))
				for r := <-got; r != id; r = <-got {
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
