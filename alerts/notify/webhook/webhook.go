package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/schemas"
)

// Header names.
const (
	HeaderID          = "X-Resilience-Notification-Id"
	HeaderIdempotency = "Idempotency-Key"
	HeaderTimestamp   = "X-Resilience-Timestamp"
	HeaderSignature   = "X-Resilience-Signature"
)

// DefaultWindow is the replay window Verify allows by default.
const DefaultWindow = 5 * time.Minute

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 16

// Sentinel errors of Verify and LoadSecret.
var (
	ErrBadSignature = errors.New("webhook: bad signature")
	ErrStale        = errors.New("webhook: timestamp outside the replay window")
	ErrWeakSecret   = errors.New("webhook: secret too short")
)

// LoadSecret reads a secret file (surrounding whitespace trimmed).
func LoadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret_file %s: %w", path, err)
	}
	s := bytes.TrimSpace(b)
	if len(s) < MinSecretLen {
		return nil, fmt.Errorf("webhook secret_file %s: %w (%d bytes, need %d)", path, ErrWeakSecret, len(s), MinSecretLen)
	}
	return s, nil
}

// Config configures a Channel.
type Config struct {
	// Name is the channel's name within its receiver, e.g. "webhook[0]".
	Name   string
	URL    string
	Secret []byte
	// Client defaults to one with a 10 s timeout.
	Client *http.Client
	// Registry and ConsoleURL feed the message texts (notify.Render).
	Registry   *schemas.Registry
	ConsoleURL string
	Now        func() time.Time
}

// Channel posts notifications.
type Channel struct{ cfg Config }

var _ notify.Channel = (*Channel)(nil)

// New checks cfg and returns a Channel.
func New(cfg Config) (*Channel, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("webhook %s: %w", cfg.URL, ErrWeakSecret)
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("webhook %q: not an http(s) URL", cfg.URL)
	}
	if cfg.Name == "" {
		cfg.Name = "webhook"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Channel{cfg: cfg}, nil
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return c.cfg.Name }

// Body is the JSON posted.
type Body struct {
	ID       string               `json:"id"`
	Receiver string               `json:"receiver"`
	Tier     int                  `json:"tier"`
	Repeat   int                  `json:"repeat"`
	Alerts   []schemas.AlertEvent `json:"alerts"`
	// Text is the rendered message per language (vi, en).
	Text map[string]Text `json:"text"`
}

// Text is a rendered message.
type Text struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Encode renders the body of n (deterministic: the same notification gives
// the same bytes).
func (c *Channel) Encode(n notify.Notification) ([]byte, error) {
	b := Body{ID: n.ID, Receiver: n.Receiver, Tier: n.Tier, Repeat: n.Repeat, Alerts: n.Alerts, Text: map[string]Text{}}
	for _, lang := range []string{notify.LangVI, notify.LangEN} {
		t := notify.Render(n, c.cfg.Registry, c.cfg.ConsoleURL, lang)
		b.Text[lang] = Text{Subject: t.Subject, Body: t.Body}
	}
	return json.Marshal(b)
}

// Sign returns the signature header value for body at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, n notify.Notification) error {
	body, err := c.Encode(n)
	if err != nil {
		return fmt.Errorf("webhook %s notification %s: encode: %w", c.cfg.URL, n.ID, err)
	}
	ts := c.cfg.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s notification %s: %w: %w", c.cfg.URL, n.ID, notify.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, n.ID)
	req.Header.Set(HeaderIdempotency, n.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.cfg.Secret, ts, body))
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s notification %s: %w", c.cfg.URL, n.ID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("webhook %s notification %s: %s: %s", c.cfg.URL, n.ID, resp.Status, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("webhook %s notification %s: %s: %s: %w", c.cfg.URL, n.ID, resp.Status, bytes.TrimSpace(msg), notify.ErrPermanent)
	}
}

// Verify checks a request's signature and timestamp as a receiver would:
// ts and sig are the header values, now the receiver's clock, window the
// allowed skew either way (DefaultWindow if <= 0).
func Verify(secret []byte, ts, sig string, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultWindow
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, t, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > window || d < -window {
		return fmt.Errorf("%w: %s off", ErrStale, d)
	}
	return nil
}
