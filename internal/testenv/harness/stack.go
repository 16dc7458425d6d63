package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/domain"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/schemas"
)

// The building blocks that the scenarios (cmd/chaos), the end-to-end tests
// (cmd/resilience) and the load test (cmd/loadtest) share.

// FreeAddr returns a free loopback address (closed again: the binary
// listens on it).
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("harness: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// UniqueName is prefix-<unix seconds>-<8 random hex digits>: usable as a
// Kafka topic prefix, consumer group, InfluxDB bucket and MQTT client id.
func UniqueName(prefix string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("harness: random name: %w", err)
	}
	return fmt.Sprintf("%s-%d-%s", prefix, time.Now().Unix(), hex.EncodeToString(b[:])), nil
}

// FromEnv is the Servers of a testenv.Env (the variables the integration
// tests read).
func FromEnv(e testenv.Env) Servers {
	return Servers{MQTTURL: e.MQTTURL, KafkaBrokers: e.KafkaBrokers, InfluxURL: e.InfluxURL, InfluxOrg: e.InfluxOrg,
		InfluxToken: e.InfluxToken, Script: e.ServicesScript}
}

// ProcSpec is how StartProc runs the binary: Bin Mode [--config Config]
// [--http.listen HTTP] Args..., with Env added to this process's
// environment and the combined output in Log.
type ProcSpec struct {
	Bin, Name, Mode string
	Config, HTTP    string
	Log             string
	Args, Env       []string
}

// StartProc starts the process of spec; it does not wait for /readyz
// (Proc.WaitReady).
func StartProc(spec ProcSpec) (*Proc, error) {
	f, err := os.Create(spec.Log)
	if err != nil {
		return nil, fmt.Errorf("harness: %s log: %w", spec.Name, err)
	}
	args := []string{spec.Mode}
	if spec.Config != "" {
		args = append(args, "--config", spec.Config)
	}
	if spec.HTTP != "" {
		args = append(args, "--http.listen", spec.HTTP)
	}
	tokEnv, err := tokensEnv(spec.Env, spec.Log+".tokens.yaml")
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd := exec.Command(spec.Bin, append(args, spec.Args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), spec.Env...)
	if tokEnv != "" {
		cmd.Env = append(cmd.Env, tokEnv)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("harness: start %s: %w", spec.Name, err)
	}
	p := &Proc{Name: spec.Name, Mode: spec.Mode, HTTP: spec.HTTP, Log: spec.Log, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// StationSpec shapes the stations of a registry that StationsYAML writes.
// Every station has the alarm levels LevelI..LevelIII, lat 16.0, lon 108.0
// and district d<i mod Districts>.
type StationSpec struct {
	Name      string   // name prefix: "<Name> <i>"
	Basin     string   // shared basin; empty: a basin of its own per station (b-<id>)
	Interval  string   // reporting interval, e.g. "10m"
	Sensors   []string // e.g. water_level, rainfall
	Districts int      // at least 1
}

// StationsYAML is a station registry of ids shaped by sp.
func StationsYAML(ids []string, sp StationSpec) string {
	var sb strings.Builder
	sb.WriteString("stations:\n")
	for i, id := range ids {
		basin := sp.Basin
		if basin == "" {
			basin = "b-" + strings.ToLower(id)
		}
		fmt.Fprintf(&sb, "  - id: %s\n    name: %s %d\n    basin: %s\n    district: d%d\n"+
			"    lat: 16.0\n    lon: 108.0\n    interval: %s\n    sensors: [%s]\n"+
			"    alarm_levels_m: {I: %.1f, II: %.1f, III: %.1f}\n", id, sp.Name, i, basin, i%max(1, sp.Districts),
			sp.Interval, strings.Join(sp.Sensors, ", "), LevelI, LevelII, LevelIII)
	}
	return sb.String()
}

// CreateBucket creates an InfluxDB bucket of infinite retention with the
// operator token of srv.
func CreateBucket(ctx context.Context, srv Servers, name string) (*domain.Bucket, error) {
	cl := influxdb2.NewClient(srv.InfluxURL, srv.InfluxToken)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	org, err := cl.OrganizationsAPI().FindOrganizationByName(ctx, srv.InfluxOrg)
	if err != nil {
		return nil, fmt.Errorf("harness: influx org %q at %s: %w", srv.InfluxOrg, srv.InfluxURL, err)
	}
	b, err := cl.BucketsAPI().CreateBucketWithName(ctx, org, name, domain.RetentionRule{EverySeconds: 0})
	if err != nil {
		return nil, fmt.Errorf("harness: influx bucket %q: %w", name, err)
	}
	return b, nil
}

// DeleteBucket deletes a bucket CreateBucket made.
func DeleteBucket(ctx context.Context, srv Servers, b *domain.Bucket) error {
	cl := influxdb2.NewClient(srv.InfluxURL, srv.InfluxToken)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.BucketsAPI().DeleteBucket(ctx, b); err != nil {
		return fmt.Errorf("harness: delete bucket %s: %w", b.Name, err)
	}
	return nil
}

// DeleteTopics deletes every topic of t (the five the stack creates)
// through the cluster's controller; a topic that does not exist is not an
// error.
func DeleteTopics(brokers []string, t schemas.KafkaTopics) error {
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		return fmt.Errorf("harness: kafka %s: %w", brokers[0], err)
	}
	defer conn.Close()
	ctl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("harness: kafka controller: %w", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctl.Host, strconv.Itoa(ctl.Port)))
	if err != nil {
		return fmt.Errorf("harness: kafka controller %s:%d: %w", ctl.Host, ctl.Port, err)
	}
	defer cc.Close()
	var errs []error
	for _, name := range []string{t.Readings, t.DLQ, t.Alerts, t.State, t.Actions} {
		// One at a time: a topic the run never created (UnknownTopicOrPartition) is not an error.
		if err := cc.DeleteTopics(name); err != nil && !errors.Is(err, kafka.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("harness: delete topic %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
