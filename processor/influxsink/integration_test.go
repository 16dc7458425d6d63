package influxsink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/resilience-project/resilience/internal/testenv"
)

// Against the real InfluxDB 2 of deployments/local/services: a batch spooled
// while InfluxDB was unreachable is drained into it by a restarted sink's
// Run, and the spool empties.
func TestIntegrationSpoolDrainsIntoInfluxDB(t *testing.T) {
	env := testenv.RequireInflux(t)
	station := testenv.UniqueName(t, "st")
	spool := t.TempDir()
	tok := filepath.Join(t.TempDir(), "write-token")
	if err := os.WriteFile(tok, []byte(env.InfluxWriteToken), 0o600); err != nil {
		t.Fatal(err)
	}

	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	batch := fmt.Appendf(nil, "reading,sensor=water_level,station=%s value=2.75,seq=41i,quality=1i,late=false %d\n"+
		"reading,sensor=rainfall,station=%s value=12.5,seq=41i,quality=1i,late=false %d\n",
		station, at.UnixMilli(), station, at.UnixMilli())

	// 1. InfluxDB unreachable: the batch goes to the spool.
	down := testConfig(t, closedURL(t), spool)
	down.Org, down.Bucket, down.TokenFile = env.InfluxOrg, env.InfluxBucket, tok
	s1, _ := newSink(t, down)
	if err := s1.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write while unreachable: %v", err)
	}
	if n := len(spoolFiles(t, spool)); n != 1 {
		t.Fatalf("spool holds %d batches, want 1", n)
	}
	s1.Close()

	// 2. A sink on the real InfluxDB with the same spool drains it.
	up := down
	up.URL = env.InfluxURL
	up.Attempts = 3
	up.Timeout = 5 * time.Second
	s2, reg := newSink(t, up)
	if v := metric(t, reg, "resilience_influx_spool_batches"); v != 1 {
		t.Fatalf("restarted sink: spool_batches = %v, want 1", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s2.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(failDeadline)
	for len(spoolFiles(t, spool)) != 0 || metric(t, reg, "resilience_influx_spool_batches") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %v files", len(spoolFiles(t, spool)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rej, _ := filepath.Glob(filepath.Join(spool, "rejected", "*.lp")); len(rej) != 0 {
		t.Fatalf("InfluxDB refused the batch: %v", rej)
	}

	// 3. The points are in InfluxDB (queried with the operator token).
	qc := influxdb2.NewClient(env.InfluxURL, env.InfluxToken)
	defer qc.Close()
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: -1h)
  |> filter(fn: (r) => r._measurement == "reading" and r.station == %q)`, env.InfluxBucket, station)
	type point struct {
		sensor, field string
		value         any
		at            time.Time
	}
	var got []point
	for {
		got = got[:0]
		res, err := qc.QueryAPI(env.InfluxOrg).Query(ctx, flux)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		for res.Next() {
			r := res.Record()
			got = append(got, point{fmt.Sprint(r.ValueByKey("sensor")), r.Field(), r.Value(), r.Time()})
		}
		if err := res.Err(); err != nil {
			t.Fatalf("query result: %v", err)
		}
		res.Close()
		if len(got) >= 8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := map[string]any{
		"water_level/value": 2.75, "water_level/seq": int64(41), "water_level/quality": int64(1), "water_level/late": false,
		"rainfall/value": 12.5, "rainfall/seq": int64(41), "rainfall/quality": int64(1), "rainfall/late": false,
	}
	if len(got) != len(want) {
		t.Fatalf("InfluxDB holds %d field values for %s, want %d: %+v", len(got), station, len(want), got)
	}
	for _, p := range got {
		k := p.sensor + "/" + p.field
		if w, ok := want[k]; !ok || w != p.value {
			t.Errorf("%s = %#v, want %#v", k, p.value, w)
		}
		if !p.at.Equal(at) {
			t.Errorf("%s at %s, want %s (ms precision)", k, p.at, at)
		}
	}
	if !s2.Healthy() {
		t.Error("not Healthy() after draining into InfluxDB")
	}
}
