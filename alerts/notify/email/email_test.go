package email_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/email"
	"github.com/resilience-project/resilience/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

func notification() notify.Notification {
	e := schemas.AlertEvent{V: 1, ID: "VG-AINGHIA-01", EventID: "VG-AINGHIA-01:fired:2:1", Kind: schemas.AlertFired, Station: "VG-AINGHIA",
		Sensor: schemas.WaterLevel, Rule: "level:water_level", Level: 2, LevelName: "BĐ II", Severity: schemas.SeveritySevere, Value: 8.4, At: t0}
	return notify.Notification{ID: "n-0123", Receiver: "duty", Target: "duty/email[0]", Alerts: []schemas.AlertEvent{e}, At: t0}
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// mailServer is an in-process SMTP server (go-smtp).
type mailServer struct {
	mu      sync.Mutex
	msgs    []received
	rcptErr error
	srv     *smtp.Server
	addr    string
}

type session struct {
	s   *mailServer
	c   *smtp.Conn
	cur received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "bot" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.cur.user = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.s.rcptErr != nil {
		return s.s.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	_, s.cur.tls = s.c.TLSConnectionState()
	s.s.mu.Lock()
	s.s.msgs = append(s.s.msgs, s.cur)
	s.s.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.cur = received{user: s.cur.user} }
func (s *session) Logout() error { return nil }

func startServer(t *testing.T, tlsCfg *tls.Config) *mailServer {
	t.Helper()
	ms := &mailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: ms, c: c}, nil }))
	srv.Domain, srv.TLSConfig, srv.ReadTimeout, srv.WriteTimeout = "localhost", tlsCfg, 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.srv, ms.addr = srv, ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ms
}

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func (ms *mailServer) messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.msgs...)
}

// parts parses a received mail into its headers and decoded parts by type.
func parts(t *testing.T, data []byte) (*mail.Message, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
	return m, out
}

func TestSendPlainTextAndHTML(t *testing.T) {
	cases := []struct {
		lang, subject, text, html string
	}{
		{"vi", "[CẢNH BÁO] VG-AINGHIA (VG-AINGHIA)", "level:water_level 8.4 m, đạt BĐ II", `<a href="https://console.example/alerts/VG-AINGHIA-01">`},
		{"en", "[ALERT] VG-AINGHIA (VG-AINGHIA)", "level:water_level 8.4 m, reached BĐ II", `<html lang="en">`},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			ms := startServer(t, nil)
			ch, err := email.New(email.Config{Name: "email[0]", Addr: ms.addr, From: "alerts@example.org", To: []string{"duty@example.org"},
				Lang: c.lang, ConsoleURL: "https://console.example"})
			if err != nil {
				t.Fatal(err)
			}
			n := notification()
			if err := ch.Send(context.Background(), n); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := ms.messages()
			if len(msgs) != 1 || msgs[0].from != "alerts@example.org" || len(msgs[0].to) != 1 || msgs[0].to[0] != "duty@example.org" || msgs[0].tls {
				t.Fatalf("received %+v", msgs)
			}
			m, ps := parts(t, msgs[0].data)
			subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subj != c.subject {
				t.Errorf("Subject = %q (%v), want %q", subj, err, c.subject)
			}
			if got := m.Header.Get("Message-ID"); got != email.MessageID(n.ID) {
				t.Errorf("Message-ID = %q", got)
			}
			if !strings.Contains(ps["text/plain"], c.text) || !strings.Contains(ps["text/html"], c.html) {
				t.Errorf("parts = %q", ps)
			}
			if !bytes.Equal(ch.Compose(n), ch.Compose(n)) {
				t.Error("Compose is not deterministic")
			}
		})
	}
}

func TestStartTLSAndAuth(t *testing.T) {
	srvTLS, pool := selfSigned(t)
	ms := startServer(t, srvTLS)
	ch, err := email.New(email.Config{Addr: ms.addr, From: "a@example.org", To: []string{"b@example.org"},
		Auth: &email.Auth{Username: "bot", Password: "s3cret"}, TLS: &tls.Config{RootCAs: pool}, RequireTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(context.Background(), notification()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msgs := ms.messages(); len(msgs) != 1 || !msgs[0].tls || msgs[0].user != "bot" {
		t.Fatalf("received %+v: want one message over TLS, authenticated as bot", msgs)
	}
	bad, _ := email.New(email.Config{Addr: ms.addr, From: "a@example.org", To: []string{"b@example.org"},
		Auth: &email.Auth{Username: "bot", Password: "wrong"}, TLS: &tls.Config{RootCAs: pool}})
	if err := bad.Send(context.Background(), notification()); err == nil {
		t.Error("Send with a wrong password succeeded")
	}
}

func TestErrors(t *testing.T) {
	plain := startServer(t, nil)
	rejecting := startServer(t, nil)
	rejecting.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	busy := startServer(t, nil)
	busy.rcptErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	cases := []struct {
		name       string
		addr       string
		requireTLS bool
		auth       *email.Auth
		permanent  bool
		is         error
	}{
		{"no STARTTLS but required", plain.addr, true, nil, true, email.ErrNoTLS},
		{"mailbox does not exist", rejecting.addr, false, nil, true, nil},
		{"server busy", busy.addr, false, nil, false, nil},
		{"connection refused", closedAddr, false, nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := email.New(email.Config{Addr: c.addr, From: "a@example.org", To: []string{"b@example.org"}, RequireTLS: c.requireTLS, Auth: c.auth})
			if err != nil {
				t.Fatal(err)
			}
			err = ch.Send(context.Background(), notification())
			if err == nil || errors.Is(err, notify.ErrPermanent) != c.permanent || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("Send = %v; want permanent=%v is %v", err, c.permanent, c.is)
			}
		})
	}
}

func TestLoadAuthAndNew(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		content string
		ok      bool
	}{{"bot:s3cret\n", true}, {"bot:pa:ss", true}, {"bot", false}, {":x", false}, {"bot:", false}, {"a:b\nc:d", false}}
	for i, c := range cases {
		p := filepath.Join(dir, "auth"+string(rune('0'+i)))
		os.WriteFile(p, []byte(c.content), 0o600)
		a, err := email.LoadAuth(p)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, email.ErrAuthFile)) {
			t.Errorf("LoadAuth(%q) = %+v, %v", c.content, a, err)
		}
	}
	for _, cfg := range []email.Config{
		{Addr: "nohost", From: "a@x", To: []string{"b@x"}},
		{Addr: "h:25", From: "a@x"},
		{Addr: "h:25", From: "a@x", To: []string{"b@x\r\nBcc: c@x"}},
		{Addr: "h:25", From: "a@x", To: []string{"b@x"}, Lang: "fr"},
	} {
		if _, err := email.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
