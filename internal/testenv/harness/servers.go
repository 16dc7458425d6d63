package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Servers is where the real servers are (the variables that
// deployments/local/services writes to .cache/services/env).
type Servers struct {
	MQTTURL      string
	KafkaBrokers []string
	InfluxURL    string
	InfluxOrg    string
	// InfluxToken is the operator token: it creates and deletes buckets.
	InfluxToken string
	// Script is the absolute path of deployments/local/services.
	Script string
}

// ErrNoServers is returned by LoadServers when a variable is unset.
var ErrNoServers = errors.New("harness: real servers not configured")

// LoadServers reads MQTT_URL, KAFKA_BROKERS, INFLUX_URL, INFLUX_ORG,
// INFLUX_TOKEN_FILE and RESILIENCE_SERVICES.
func LoadServers(getenv func(string) string) (Servers, error) {
	var missing []string
	get := func(k string) string {
		v := strings.TrimSpace(getenv(k))
		if v == "" {
			missing = append(missing, k)
		}
		return v
	}
	s := Servers{MQTTURL: get("MQTT_URL"), InfluxURL: get("INFLUX_URL"), InfluxOrg: get("INFLUX_ORG"), Script: get("RESILIENCE_SERVICES")}
	for _, b := range strings.Split(get("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.KafkaBrokers = append(s.KafkaBrokers, b)
		}
	}
	tokenFile := get("INFLUX_TOKEN_FILE")
	if len(missing) > 0 {
		return s, fmt.Errorf("%w: %s unset; run `deployments/local/services up` and "+
			"`set -a; source .cache/services/env; set +a`", ErrNoServers, strings.Join(missing, ", "))
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return s, fmt.Errorf("harness: INFLUX_TOKEN_FILE: %w", err)
	}
	s.InfluxToken = strings.TrimSpace(string(tok))
	return s, nil
}

// Service names of deployments/local/services.
const (
	Mosquitto = "mosquitto"
	Kafka     = "kafka"
	InfluxDB  = "influxdb"
)

// pidFiles are the services script's pid files, relative to its state
// directory (.cache/services).
var pidFiles = map[string]string{
	Mosquitto: "mosquitto/mosquitto.pid",
	Kafka:     "kafka/kafka.pid",
	InfluxDB:  "influxdb/influxd.pid",
}

// ScriptTimeout bounds one call of the services script (Kafka's JVM can
// take a while to start on a busy machine).
const ScriptTimeout = 5 * time.Minute

// Up starts svc through the services script and waits until it answers;
// starting a running server is a no-op.
func (s Servers) Up(ctx context.Context, svc string) error { return s.script(ctx, "up", svc) }

// Down stops svc gracefully through the services script.
func (s Servers) Down(ctx context.Context, svc string) error { return s.script(ctx, "down", svc) }

func (s Servers) script(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, ScriptTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.Script, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("harness: %s %s: %w\n%s", s.Script, strings.Join(args, " "), err, out)
	}
	return nil
}

// Pid returns the process id of a running server from its pid file.
func (s Servers) Pid(svc string) (int, error) {
	rel, ok := pidFiles[svc]
	if !ok {
		return 0, fmt.Errorf("harness: unknown service %q", svc)
	}
	// The script lives in deployments/local; its state in <repo>/.cache/services.
	path := filepath.Join(filepath.Dir(s.Script), "..", "..", ".cache", "services", rel)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("harness: %s pid file: %w", svc, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("harness: %s pid file %s: %q is not a pid", svc, path, b)
	}
	return pid, nil
}

// Signal sends sig to the server's process (SIGKILL, SIGSTOP, SIGCONT).
func (s Servers) Signal(svc string, sig syscall.Signal) error {
	pid, err := s.Pid(svc)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("harness: %s (pid %d): %s: %w", svc, pid, sig, err)
	}
	return nil
}

// Kill9 kills the server with SIGKILL and waits until the process is gone.
func (s Servers) Kill9(ctx context.Context, svc string) error {
	pid, err := s.Pid(svc)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("harness: %s (pid %d): SIGKILL: %w", svc, pid, err)
	}
	return waitGone(ctx, pid)
}

// waitGone waits until pid no longer exists (or is a zombie, which the
// services script's shell reaps).
func waitGone(ctx context.Context, pid int) error {
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: pid %d still alive: %w", pid, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
