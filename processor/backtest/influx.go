package backtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/schemas"
)

// InfluxSource is a period of one InfluxDB 2 bucket.
type InfluxSource struct {
	URL, Org, Bucket, Token string
	// Start is required; a zero Stop means now.
	Start, Stop time.Time
}

// ReadInflux reads the `reading` measurement of src back into records, one
// per (station, time, seq), in time order.
func ReadInflux(ctx context.Context, src InfluxSource) ([]schemas.Record, error) {
	if src.Start.IsZero() {
		return nil, errors.New("backtest: influx source needs a start")
	}
	stop := "now()"
	if !src.Stop.IsZero() {
		stop = src.Stop.UTC().Format(time.RFC3339Nano)
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and (r._field == "value" or r._field == "seq"))
  |> pivot(rowKey: ["_time", "station", "sensor"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time", "station", "seq"])`, src.Bucket, src.Start.UTC().Format(time.RFC3339Nano), stop, lineproto.MeasReading)
	cl := influxdb2.NewClient(src.URL, src.Token)
	defer cl.Close()
	res, err := cl.QueryAPI(src.Org).Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("backtest: influx query %s bucket %s: %w", src.URL, src.Bucket, err)
	}
	var g grouper
	for res.Next() {
		r := res.Record()
		st, _ := r.ValueByKey("station").(string)
		sensor, _ := r.ValueByKey("sensor").(string)
		v, okv := r.ValueByKey("value").(float64)
		seq, oks := r.ValueByKey("seq").(int64)
		if !okv || !oks {
			continue
		}
		if err := g.add(st, r.Time().UTC(), uint64(seq), schemas.Sensor(sensor), v, "influx"); err != nil {
			return nil, fmt.Errorf("%w: influx bucket %s at %s: %v", ErrBadInput, src.Bucket, r.Time().UTC().Format(time.RFC3339), err)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("backtest: influx query %s bucket %s: %w", src.URL, src.Bucket, err)
	}
	return g.out, nil
}
