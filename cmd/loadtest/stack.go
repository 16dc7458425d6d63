package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// stationIDs returns the ids of n load-test stations: LT-00001 ...
func stationIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("LT-%05d", i+1)
	}
	return ids
}

// registryYAML is a station registry for ids (one basin, interval 10m).
func registryYAML(ids []string) string {
	return harness.StationsYAML(ids, harness.StationSpec{Name: "load test", Basin: "loadtest", Interval: "10m",
		Sensors: []string{string(schemas.WaterLevel)}, Districts: 8})
}

// prepareServers creates the run's InfluxDB bucket (named name, unless
// influx is false) and writes its token to dir/influx-token. The returned
// cleanup deletes the bucket and the run's Kafka topics (prefix name+".")
// and drops the collector's MQTT session, unless keep.
func prepareServers(ctx context.Context, srv harness.Servers, influx bool, dir, name string, keep bool, logf func(string, ...any)) (func(), error) {
	dropBucket := func(context.Context) error { return nil }
	if influx {
		b, err := harness.CreateBucket(ctx, srv, name)
		if err != nil {
			return nil, err
		}
		dropBucket = func(ctx context.Context) error { return harness.DeleteBucket(ctx, srv, b) }
		if err := os.WriteFile(filepath.Join(dir, "influx-token"), []byte(srv.InfluxToken), 0o600); err != nil {
			return nil, err
		}
	}
	if keep {
		if influx {
			logf("keeping kafka topics %s.* and influx bucket %s", name, name)
		} else {
			logf("keeping kafka topics %s.*", name)
		}
		return func() {}, nil
	}
	return func() {
		// Drop the collector's persistent session, or the broker queues
		// every later reading for it.
		if err := testenv.DropMQTTSession(srv.MQTTURL, name+"-collector"); err != nil {
			logf("cleanup: %v", err)
		}
		if err := dropBucket(context.Background()); err != nil {
			logf("cleanup: %v", err)
		}
		if err := harness.DeleteTopics(srv.KafkaBrokers, schemas.Topics(name+".")); err != nil {
			logf("cleanup: %v", err)
		}
	}, nil
}

// serversConfig is the resilience config of mode servers: the run's topic
// prefix, consumer group, share group and bucket are all named name.
// Without influx the points go to line-protocol files.
func serversConfig(srv harness.Servers, influx bool, partitions int, name string) string {
	cfg := fmt.Sprintf(`stations_file: stations.yaml
data_dir: data
kafka:
  brokers: [%s]
  topic_prefix: %q
  partitions: %d
ingest:
  mqtt_url: %s
  client_id: %s-collector
  share_group: %s
processor:
  group: %s-processor
`, strings.Join(srv.KafkaBrokers, ", "), name+".", partitions, srv.MQTTURL, name, name, name)
	if influx {
		cfg += fmt.Sprintf(`influx:
  url: %s
  org: %s
  bucket: %s
  token_file: influx-token
`, srv.InfluxURL, srv.InfluxOrg, name)
	}
	return cfg
}
