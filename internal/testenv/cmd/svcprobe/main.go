package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/domain"
	"github.com/segmentio/kafka-go"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: svcprobe kafka|influx-setup [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "kafka":
		err = kafkaCmd(os.Args[2:])
	case "influx-setup":
		err = influxSetupCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "svcprobe:", err)
		os.Exit(1)
	}
}

// kafkaCmd waits until a broker answers a metadata request listing itself
// and naming a controller.
func kafkaCmd(args []string) error {
	fs := flag.NewFlagSet("kafka", flag.ExitOnError)
	broker := fs.String("brokers", "127.0.0.1:9092", "broker address")
	wait := fs.Duration("wait", 0, "keep trying this long (0: one attempt)")
	_ = fs.Parse(args)

	deadline := time.Now().Add(*wait)
	for attempt := 1; ; attempt++ {
		desc, err := kafkaProbe(*broker)
		if err == nil {
			fmt.Println(desc)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka %s not ready after %d attempts: %w", *broker, attempt, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func kafkaProbe(broker string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	brokers, err := conn.Brokers()
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	if len(brokers) == 0 {
		return "", errors.New("metadata lists no broker")
	}
	ctrl, err := conn.Controller()
	if err != nil {
		return "", fmt.Errorf("controller: %w", err)
	}
	versions, err := conn.ApiVersions()
	if err != nil {
		return "", fmt.Errorf("api versions: %w", err)
	}
	return fmt.Sprintf("kafka %s: %d broker(s), controller %d at %s, %d APIs",
		broker, len(brokers), ctrl.ID, net.JoinHostPort(ctrl.Host, fmt.Sprint(ctrl.Port)), len(versions)), nil
}

// influxSetupCmd onboards a fresh influxd (org, bucket, operator token) and
// makes sure the extra buckets and a write-only token exist. Idempotent.
func influxSetupCmd(args []string) error {
	fs := flag.NewFlagSet("influx-setup", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8086", "influxd URL")
	org := fs.String("org", "resilience", "organization")
	bucket := fs.String("bucket", "readings", "initial bucket")
	extra := fs.String("extra-buckets", "alerts", "comma-separated buckets to ensure")
	user := fs.String("user", "resilience", "operator user name")
	stateDir := fs.String("state-dir", "", "directory holding operator-token, write-token, admin-password")
	_ = fs.Parse(args)
	if *stateDir == "" {
		return errors.New("-state-dir is required")
	}
	opFile := filepath.Join(*stateDir, "operator-token")
	wrFile := filepath.Join(*stateDir, "write-token")
	pwFile := filepath.Join(*stateDir, "admin-password")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	allowed, err := setupAllowed(ctx, *url)
	if err != nil {
		return err
	}
	if allowed {
		token, err := secret(32)
		if err != nil {
			return err
		}
		password, err := secret(16)
		if err != nil {
			return err
		}
		// Keep the secrets before onboarding so a crash cannot lose them.
		if err := writeSecret(pwFile, password); err != nil {
			return err
		}
		if err := writeSecret(opFile, token); err != nil {
			return err
		}
		c := influxdb2.NewClient(*url, "")
		_, err = c.SetupWithToken(ctx, *user, password, *org, *bucket, 0, token)
		c.Close()
		if err != nil {
			return fmt.Errorf("onboard %s (org %s, bucket %s): %w", *url, *org, *bucket, err)
		}
		_ = os.Remove(wrFile)
		fmt.Printf("influxdb: onboarded org %q bucket %q\n", *org, *bucket)
	}

	opToken, err := readSecret(opFile)
	if err != nil {
		return fmt.Errorf("influxd is already onboarded but the operator token is unreadable (%w); "+
			"run `deployments/local/services reset influxdb` to start from empty data", err)
	}
	c := influxdb2.NewClient(*url, opToken)
	defer c.Close()

	o, err := c.OrganizationsAPI().FindOrganizationByName(ctx, *org)
	if err != nil {
		return fmt.Errorf("find org %q with the operator token: %w", *org, err)
	}
	var writeIDs []string
	for _, name := range append([]string{*bucket}, splitList(*extra)...) {
		b, err := c.BucketsAPI().FindBucketByName(ctx, name)
		if err != nil {
			b, err = c.BucketsAPI().CreateBucketWithName(ctx, o, name)
			if err != nil {
				return fmt.Errorf("create bucket %q: %w", name, err)
			}
			fmt.Printf("influxdb: created bucket %q\n", name)
		}
		writeIDs = append(writeIDs, *b.Id)
	}

	if tok, err := readSecret(wrFile); err == nil {
		ok, err := tokenActive(ctx, c, tok)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	perms := make([]domain.Permission, 0, len(writeIDs))
	for _, id := range writeIDs {
		perms = append(perms, domain.Permission{
			Action:   domain.PermissionActionWrite,
			Resource: domain.Resource{Type: domain.ResourceTypeBuckets, Id: ptr(id), OrgID: o.Id},
		})
	}
	desc := "resilience processor: write-only " + strings.Join(append([]string{*bucket}, splitList(*extra)...), ",")
	auth, err := c.AuthorizationsAPI().CreateAuthorization(ctx, &domain.Authorization{
		AuthorizationUpdateRequest: domain.AuthorizationUpdateRequest{Description: &desc},
		OrgID:                      o.Id,
		Permissions:                &perms,
	})
	if err != nil {
		return fmt.Errorf("create write token: %w", err)
	}
	if auth.Token == nil {
		return errors.New("create write token: response has no token")
	}
	if err := writeSecret(wrFile, *auth.Token); err != nil {
		return err
	}
	fmt.Println("influxdb: created write-only token")
	return nil
}

func setupAllowed(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v2/setup", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("GET /api/v2/setup: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET /api/v2/setup: %s: %s", resp.Status, body)
	}
	var v struct {
		Allowed bool `json:"allowed"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return false, fmt.Errorf("GET /api/v2/setup: decode %q: %w", body, err)
	}
	return v.Allowed, nil
}

func tokenActive(ctx context.Context, c influxdb2.Client, token string) (bool, error) {
	auths, err := c.AuthorizationsAPI().GetAuthorizations(ctx)
	if err != nil {
		return false, fmt.Errorf("list authorizations: %w", err)
	}
	for _, a := range *auths {
		if a.Token != nil && *a.Token == token {
			return a.Status == nil || *a.Status == domain.AuthorizationUpdateRequestStatusActive, nil
		}
	}
	return false, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func secret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// writeSecret writes atomically with mode 0600.
func writeSecret(path, value string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
