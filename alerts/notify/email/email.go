package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/schemas"
)

// MessageIDDomain is the right-hand side of the Message-IDs.
const MessageIDDomain = "notify.resilience.invalid"

// ErrNoTLS is returned when RequireTLS is set and the server offers no
// STARTTLS.
var ErrNoTLS = errors.New("email: server offers no STARTTLS")

// ErrAuthFile is wrapped by LoadAuth's errors for a malformed file.
var ErrAuthFile = errors.New("email: auth file must hold one line user:password")

// Auth is an SMTP login.
type Auth struct{ Username, Password string }

// LoadAuth reads an auth file: one line "user:password".
func LoadAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("email auth_file %s: %w", path, err)
	}
	u, p, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || u == "" || p == "" || strings.ContainsAny(u+p, "\r\n") {
		return nil, fmt.Errorf("email auth_file %s: %w", path, ErrAuthFile)
	}
	return &Auth{Username: u, Password: p}, nil
}

// Config configures a Channel.
type Config struct {
	// Name is the channel's name within its receiver, e.g. "email[0]".
	Name string
	// Addr is the SMTP server, host:port.
	Addr string
	From string
	To   []string
	// Lang is vi or en (default vi).
	Lang string
	Auth *Auth
	// TLS is the STARTTLS configuration (ServerName defaults to Addr's host).
	TLS        *tls.Config
	RequireTLS bool
	// Hostname is sent in EHLO (default resilience.localhost).
	Hostname   string
	Timeout    time.Duration // per mail, default 30s
	Registry   *schemas.Registry
	ConsoleURL string
}

// Channel sends mail.
type Channel struct{ cfg Config }

var _ notify.Channel = (*Channel)(nil)

// New checks cfg and returns a Channel.
func New(cfg Config) (*Channel, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("email: addr %q: %w", cfg.Addr, err)
	}
	if cfg.From == "" || len(cfg.To) == 0 {
		return nil, fmt.Errorf("email %s: from and to are required", cfg.Addr)
	}
	for _, a := range append([]string{cfg.From}, cfg.To...) {
		if strings.ContainsAny(a, "\r\n<>,") {
			return nil, fmt.Errorf("email %s: bad address %q", cfg.Addr, a)
		}
	}
	if cfg.Lang == "" {
		cfg.Lang = notify.LangVI
	}
	if cfg.Lang != notify.LangVI && cfg.Lang != notify.LangEN {
		return nil, fmt.Errorf("email %s: lang %q is not one of vi, en", cfg.Addr, cfg.Lang)
	}
	if cfg.Name == "" {
		cfg.Name = "email"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "resilience.localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Channel{cfg: cfg}, nil
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return c.cfg.Name }

// MessageID is the Message-ID of notification id (with angle brackets).
func MessageID(id string) string { return "<" + id + "@" + MessageIDDomain + ">" }

// Compose renders the mail of n: headers, then a multipart/alternative body
// (text/plain and text/html, UTF-8, quoted-printable). The same n always
// gives the same bytes.
func (c *Channel) Compose(n notify.Notification) []byte {
	t := notify.Render(n, c.cfg.Registry, c.cfg.ConsoleURL, c.cfg.Lang)
	sum := sha256.Sum256([]byte(n.ID))
	boundary := "resilience-" + hex.EncodeToString(sum[:12])
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", c.cfg.From)
	h("To", strings.Join(c.cfg.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", t.Subject))
	h("Date", n.At.UTC().Format(time.RFC1123Z))
	h("Message-ID", MessageID(n.ID))
	h("X-Resilience-Notification-Id", n.ID)
	h("Content-Language", map[string]string{notify.LangVI: "vi-VN", notify.LangEN: "en-US"}[c.cfg.Lang])
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	part := func(ctype, body string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ctype)
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
		w.Close()
		b.WriteString("\r\n")
	}
	part("text/plain", t.Body+"\n")
	var hb strings.Builder
	fmt.Fprintf(&hb, "<!DOCTYPE html>\n<html lang=%q><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n",
		c.cfg.Lang, html.EscapeString(t.Subject))
	for _, para := range strings.Split(t.Body, "\n\n") {
		fmt.Fprintf(&hb, "<p>%s</p>\n", linkify(para))
	}
	hb.WriteString("</body></html>\n")
	part("text/html", hb.String())
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// linkify escapes s and turns a trailing console link into an anchor.
func linkify(s string) string {
	i := strings.LastIndex(s, ". http")
	if i < 0 {
		return html.EscapeString(s)
	}
	u := s[i+2:]
	return html.EscapeString(s[:i+2]) + `<a href="` + html.EscapeString(u) + `">` + html.EscapeString(u) + "</a>"
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, n notify.Notification) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	err := c.send(ctx, n)
	if err == nil {
		return nil
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		err = fmt.Errorf("%w: %w", notify.ErrPermanent, err)
	}
	return fmt.Errorf("email %s notification %s to %v: %w", c.cfg.Addr, n.ID, c.cfg.To, err)
}

func (c *Channel) send(ctx context.Context, n notify.Notification) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	host, _, _ := net.SplitHostPort(c.cfg.Addr)
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	if err := cl.Hello(c.cfg.Hostname); err != nil {
		return err
	}
	if ok, _ := cl.Extension("STARTTLS"); ok {
		cfg := c.cfg.TLS
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		if err := cl.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if c.cfg.RequireTLS {
		return fmt.Errorf("%w: %w", notify.ErrPermanent, ErrNoTLS)
	}
	if c.cfg.Auth != nil {
		if err := cl.Auth(smtp.PlainAuth("", c.cfg.Auth.Username, c.cfg.Auth.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := cl.Mail(c.cfg.From); err != nil {
		return err
	}
	for _, to := range c.cfg.To {
		if err := cl.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(c.Compose(n)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}
