package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Environment variables written by deployments/local/services into
// .cache/services/env.
const (
	EnvMQTTURL          = "MQTT_URL"
	EnvMQTTSecureURL    = "MQTT_SECURE_URL"
	EnvMQTTPasswords    = "MQTT_PASSWORDS_FILE"
	EnvKafkaBrokers     = "KAFKA_BROKERS"
	EnvInfluxURL        = "INFLUX_URL"
	EnvInfluxOrg        = "INFLUX_ORG"
	EnvInfluxBucket     = "INFLUX_BUCKET"
	EnvInfluxToken      = "INFLUX_TOKEN_FILE"
	EnvInfluxWriteToken = "INFLUX_WRITE_TOKEN_FILE"
	EnvServices         = "RESILIENCE_SERVICES"
)

// Service names understood by the services script.
const (
	Mosquitto = "mosquitto"
	Kafka     = "kafka"
	InfluxDB  = "influxdb"
)

// Hint is the message of a skipped (or, under CI, failed) integration test.
const Hint = "integration servers not configured: run `make test`, or `deployments/local/services up` " +
	"and `set -a; source .cache/services/env; set +a` before `go test`"

// Env is where the real servers are and how to authenticate to them.
type Env struct {
	// MQTTURL is the anonymous listener, e.g. tcp://127.0.0.1:1883.
	MQTTURL string
	// MQTTSecureURL is the listener with passwords and the per-station ACL.
	MQTTSecureURL string
	// MQTTPasswords maps a user (a station id, or "collector") to its
	// password on MQTTSecureURL.
	MQTTPasswords map[string]string

	KafkaBrokers []string

	InfluxURL    string
	InfluxOrg    string
	InfluxBucket string
	// InfluxToken is the operator (all-access) token.
	InfluxToken string
	// InfluxWriteToken may only write to the project's buckets.
	InfluxWriteToken string

	// ServicesScript is the absolute path of deployments/local/services.
	ServicesScript string
}

// need is a set of requirements for one kind of test.
type need struct {
	mqtt, kafka, influx bool
}

// Services returns the environment of all three servers (see RequireMQTT,
// RequireKafka and RequireInflux for one of them).
func Services(t testing.TB) Env {
	t.Helper()
	return require(t, need{mqtt: true, kafka: true, influx: true})
}

// RequireMQTT returns the environment with the Mosquitto fields set.
func RequireMQTT(t testing.TB) Env {
	t.Helper()
	return require(t, need{mqtt: true})
}

// RequireKafka returns the environment with KafkaBrokers set.
func RequireKafka(t testing.TB) Env {
	t.Helper()
	return require(t, need{kafka: true})
}

// RequireInflux returns the environment with the InfluxDB fields set.
func RequireInflux(t testing.TB) Env {
	t.Helper()
	return require(t, need{influx: true})
}

func require(t testing.TB, n need) Env {
	t.Helper()
	env, missing, err := load(os.Getenv, os.ReadFile, n)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("testenv: %s unset; %s", strings.Join(missing, ", "), Hint)
		if InCI(os.Getenv) {
			t.Fatal(msg + " (CI=true: integration tests must not be skipped)")
		}
		t.Skip(msg)
	}
	return env
}

// InCI reports whether the CI variable is set to a true value.
func InCI(getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(getenv("CI"))) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// load reads the environment. Missing variables are listed in missing; a
// variable that is set but points to an unreadable or malformed file is an
// error.
func load(getenv func(string) string, readFile func(string) ([]byte, error), n need) (Env, []string, error) {
	var (
		env     Env
		missing []string
	)
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	env.ServicesScript = strings.TrimSpace(getenv(EnvServices))
	if n.mqtt {
		env.MQTTURL = get(EnvMQTTURL)
		env.MQTTSecureURL = get(EnvMQTTSecureURL)
		if path := get(EnvMQTTPasswords); path != "" {
			b, err := readFile(path)
			if err != nil {
				return Env{}, nil, fmt.Errorf("%s: %w", EnvMQTTPasswords, err)
			}
			pw, err := ParsePasswords(string(b))
			if err != nil {
				return Env{}, nil, fmt.Errorf("%s %s: %w", EnvMQTTPasswords, path, err)
			}
			env.MQTTPasswords = pw
		}
	}
	if n.kafka {
		if v := get(EnvKafkaBrokers); v != "" {
			env.KafkaBrokers = SplitList(v)
		}
	}
	if n.influx {
		env.InfluxURL = get(EnvInfluxURL)
		env.InfluxOrg = get(EnvInfluxOrg)
		env.InfluxBucket = get(EnvInfluxBucket)
		for _, f := range []struct {
			name string
			dst  *string
		}{{EnvInfluxToken, &env.InfluxToken}, {EnvInfluxWriteToken, &env.InfluxWriteToken}} {
			path := get(f.name)
			if path == "" {
				continue
			}
			b, err := readFile(path)
			if err != nil {
				return Env{}, nil, fmt.Errorf("%s: %w", f.name, err)
			}
			*f.dst = strings.TrimSpace(string(b))
			if *f.dst == "" {
				return Env{}, nil, fmt.Errorf("%s: %s is empty", f.name, path)
			}
		}
	}
	return env, missing, nil
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParsePasswords parses user:password lines; blank lines and lines
// starting with # are ignored.
func ParsePasswords(s string) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		user, pw, ok := strings.Cut(l, ":")
		if !ok || user == "" || pw == "" {
			return nil, fmt.Errorf("line %d: want user:password", line)
		}
		out[user] = pw
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// MQTTPassword returns user's password on the secure listener or fails
// the test.
func (e Env) MQTTPassword(t testing.TB, user string) string {
	t.Helper()
	pw, ok := e.MQTTPasswords[user]
	if !ok {
		t.Fatalf("testenv: no MQTT password for user %q (users are listed in deployments/local/mosquitto/users)", user)
	}
	return pw
}

// UniqueName returns prefix-<test name>-<random>, usable as a Kafka topic,
// consumer group, InfluxDB bucket or measurement, or MQTT topic level:
// only [a-z0-9._-], at most 100 bytes.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	return uniqueName(prefix, t.Name(), hex.EncodeToString(b[:]))
}

func uniqueName(prefix, test, suffix string) string {
	clean := func(s string, max int) string {
		var sb strings.Builder
		dash := false
		for _, r := range strings.ToLower(s) {
			ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_'
			if !ok {
				if !dash && sb.Len() > 0 {
					sb.WriteByte('-')
				}
				dash = true
				continue
			}
			dash = false
			sb.WriteRune(r)
		}
		out := strings.Trim(sb.String(), "-")
		if len(out) > max {
			out = strings.Trim(out[:max], "-")
		}
		return out
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{clean(prefix, 30), clean(test, 60), suffix} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "-")
}

// StopService stops one server ("mosquitto", "kafka" or "influxdb")
// through the services script, and registers a cleanup that starts it
// again (a no-op when the test already did).
func StopService(t testing.TB, name string) {
	t.Helper()
	runScript(t, "down", name)
	t.Cleanup(func() {
		if err := script(context.Background(), t, "up", name); err != nil {
			t.Errorf("testenv: restarting %s after the test: %v", name, err)
		}
	})
}

// StartService starts one server through the services script and waits
// until it answers. Starting a running server is a no-op.
func StartService(t testing.TB, name string) {
	t.Helper()
	runScript(t, "up", name)
}

func runScript(t testing.TB, args ...string) {
	t.Helper()
	if err := script(context.Background(), t, args...); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// ScriptTimeout bounds one call of the services script.
const ScriptTimeout = 5 * time.Minute

func script(ctx context.Context, t testing.TB, args ...string) error {
	path := strings.TrimSpace(os.Getenv(EnvServices))
	if path == "" {
		if InCI(os.Getenv) {
			return fmt.Errorf("%s unset; %s", EnvServices, Hint)
		}
		t.Skipf("testenv: %s unset; %s", EnvServices, Hint)
	}
	ctx, cancel := context.WithTimeout(ctx, ScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (after %s: %w)", err, ScriptTimeout, ctx.Err())
		}
		return fmt.Errorf("%s %s: %w\n%s", path, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", path, strings.Join(args, " "), out)
	return nil
}

// ScriptStatus runs `services status` and returns its output and whether
// every server is healthy (exit code 0).
func ScriptStatus(t testing.TB) (string, bool) {
	t.Helper()
	path := strings.TrimSpace(os.Getenv(EnvServices))
	if path == "" {
		if InCI(os.Getenv) {
			t.Fatalf("testenv: %s unset; %s", EnvServices, Hint)
		}
		t.Skipf("testenv: %s unset; %s", EnvServices, Hint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ScriptTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "status").CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("testenv: %s status: %v", path, err)
		}
		return string(out), false
	}
	return string(out), true
}
