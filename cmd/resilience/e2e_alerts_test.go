package main

// End-to-end proof of alert delivery (issue 8, "Alerts reach people") on
// the embedded stack (`run --dev`: embedded mochi + Kafka-protocol log): a
// routing file written by the test sends VG-AINGHIA's level alerts to a
// signed webhook (httptest), an email (in-process go-smtp server) and the
// station's siren (a paho client playing the device), and escalates to a
// second webhook. Every assertion waits for an observable condition with a
// generous deadline; the windows that check "nothing more arrives" are the
// routing's own intervals (≥ 2 × group_wait, ≥ 3 × repeat_interval).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/emersion/go-smtp"

	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/notify/webhook"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// The routing of the tests (durations in the routing file).
const (
	e2eGroupWait = time.Second
	// e2eRepeatInterval is the routing file's minimum (1m).
	e2eRepeatInterval = time.Minute
	e2eTierAfter      = 4 * time.Second
	// e2eTier2After is a second tier that an acknowledgement must stop.
	e2eTier2After = 45 * time.Second
	// e2eDeadline bounds every wait for something that must happen.
	e2eDeadline = 90 * time.Second
)

const e2eStation = "VG-AINGHIA"

// hookDelivery is one POST a test webhook received.
type hookDelivery struct {
	id     string
	body   webhook.Body
	at     time.Time
	status int
}

// hookServer is a webhook receiver: it verifies each request's HMAC
// signature (webhook.Verify), records every raw delivery and answers
// status (200 unless set).
type hookServer struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []hookDelivery
	bad    []string // signature or decoding failures
}

func newHookServer(t *testing.T, secret []byte) *hookServer {
	h := &hookServer{t: t, secret: secret}
	h.status.Store(http.StatusOK)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		err = webhook.Verify(h.secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, now, 0)
	}
	var b webhook.Body
	if err == nil {
		err = json.Unmarshal(body, &b)
	}
	if err == nil && (b.ID != r.Header.Get(webhook.HeaderID) || b.ID != r.Header.Get(webhook.HeaderIdempotency)) {
		err = fmt.Errorf("body id %q, headers %q / %q", b.ID, r.Header.Get(webhook.HeaderID), r.Header.Get(webhook.HeaderIdempotency))
	}
	if err != nil {
		h.bad = append(h.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	st := int(h.status.Load())
	h.got = append(h.got, hookDelivery{id: b.ID, body: b, at: now, status: st})
	w.WriteHeader(st)
}

// deliveries returns the raw deliveries so far.
func (h *hookServer) deliveries() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		h.t.Errorf("webhook %s: rejected requests: %v", h.srv.URL, h.bad)
	}
	return append([]hookDelivery(nil), h.got...)
}

// distinct counts the distinct notification ids among ds.
func distinct(ds []hookDelivery) int {
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.id] = true
	}
	return len(seen)
}

// withKind keeps the deliveries that tell an alert event of kind.
func withKind(ds []hookDelivery, kind schemas.AlertKind) []hookDelivery {
	var out []hookDelivery
	for _, d := range ds {
		for _, a := range d.body.Alerts {
			if a.Kind == kind {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// mailMsg is one message the test SMTP server accepted.
type mailMsg struct {
	messageID, subject string
	at                 time.Time
}

// smtpSink is an in-process SMTP server (go-smtp) collecting messages.
type smtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []mailMsg
	bad  []string
}

type smtpSession struct{ s *smtpSink }

func (s smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s smtpSession) Reset()                               {}
func (s smtpSession) Logout() error                        { return nil }
func (s smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	if err != nil {
		s.s.bad = append(s.s.bad, err.Error())
		return nil
	}
	s.s.msgs = append(s.s.msgs, mailMsg{messageID: m.Header.Get("Message-ID"), subject: m.Header.Get("Subject"), at: time.Now()})
	return nil
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return smtpSession{sink}, nil }))
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "localhost", 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	sink.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return sink
}

func (s *smtpSink) messages(t *testing.T) []mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Errorf("smtp: undecodable messages: %v", s.bad)
	}
	return append([]mailMsg(nil), s.msgs...)
}

// sirenCmd is one command the siren device received.
type sirenCmd struct {
	cmd mqttsiren.Command
	at  time.Time
}

// sirenDevice plays the station's siren: it takes every command on
// stations/<id>/cmd/siren and acknowledges it ("ok") on
// stations/<id>/cmd/ack.
type sirenDevice struct {
	c    mqtt.Client
	wg   sync.WaitGroup
	mu   sync.Mutex
	cmds []sirenCmd
	bad  []string
}

func newSirenDevice(t *testing.T, mqttAddr, station string) *sirenDevice {
	t.Helper()
	d := &sirenDevice{}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID(station + "-siren").SetCleanSession(true).SetOrderMatters(false)
	d.c = mqtt.NewClient(o)
	if tok := d.c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("siren device: mqtt connect: %v", tok.Error())
	}
	ackTopic := "stations/" + station + "/cmd/ack"
	tok := d.c.Subscribe(fmt.Sprintf(mqttsiren.CommandTopic, station), 1, func(_ mqtt.Client, m mqtt.Message) {
		var cmd mqttsiren.Command
		err := json.Unmarshal(m.Payload(), &cmd)
		d.mu.Lock()
		defer d.mu.Unlock()
		if err != nil || cmd.Station != station || !strings.HasSuffix(cmd.ID, "/"+station) {
			d.bad = append(d.bad, fmt.Sprintf("%v: %s", err, m.Payload()))
			return
		}
		d.cmds = append(d.cmds, sirenCmd{cmd: cmd, at: time.Now()})
		ack, _ := json.Marshal(map[string]string{"id": cmd.ID, "status": "ok"})
		pt := d.c.Publish(ackTopic, 1, false, ack) // waited for off the handler (paho: a blocking handler stalls the socket)
		d.wg.Add(1)
		go func() { defer d.wg.Done(); pt.WaitTimeout(30 * time.Second) }()
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("siren device: subscribe: %v", tok.Error())
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				t.Fatalf("siren device: subscription %s refused", f)
			}
		}
	}
	t.Cleanup(func() { d.c.Disconnect(100); d.wg.Wait() })
	return d
}

func (d *sirenDevice) commands(t *testing.T) []sirenCmd {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.bad) > 0 {
		t.Errorf("siren device: bad commands: %v", d.bad)
	}
	return append([]sirenCmd(nil), d.cmds...)
}

// alertStack is the embedded stack with the test's routing and receivers.
type alertStack struct {
	mqttAddr, httpAddr string
	duty, committee    *hookServer
	other              *hookServer // the root route's receiver (other alerts)
	mail               *smtpSink
	siren              *sirenDevice
	pub                mqtt.Client
	seq                uint64
}

// alertRouting is what the e2e routing files differ in: the webhook URLs of
// the receivers other, duty-webhook, committee and city, the duty-email
// targets (YAML flow mappings), the stations of the water-level route and
// whether it escalates (to committee after e2eTierAfter, city after
// e2eTier2After).
type alertRouting struct {
	Other, Duty, Committee, City string
	Emails                       []string
	Stations                     []string
	Escalation                   bool
}

// alertRoutes is the routing file of the e2e alert tests: the root route
// notifies other; the stations' water-level alerts go to duty-webhook,
// duty-email and sirens (group_wait e2eGroupWait, repeat_interval
// e2eRepeatInterval).
func alertRoutes(r alertRouting) string {
	var emails strings.Builder
	for _, e := range r.Emails {
		fmt.Fprintf(&emails, "      - %s\n", e)
	}
	escalation := ""
	if r.Escalation {
		escalation = fmt.Sprintf(`      escalation:
        - {receivers: [committee], after: %s}
        - {receivers: [city], after: %s}
`, e2eTierAfter, e2eTier2After)
	}
	return fmt.Sprintf(`receivers:
  - name: other
    webhook:
      - {url: %q, secret_file: webhook.secret}
  - name: duty-webhook
    webhook:
      - {url: %q, secret_file: webhook.secret}
  - name: duty-email
    email:
%s  - name: sirens
    siren:
      - {alert_station: true}
  - name: committee
    webhook:
      - {url: %q, secret_file: webhook.secret}
  - name: city
    webhook:
      - {url: %q, secret_file: webhook.secret}
route:
  receivers: [other]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: {station: [%s], rule: ["level:water_level"]}
      receivers: [duty-webhook, duty-email, sirens]
      group_wait: %s
      group_interval: 1s
      repeat_interval: %s
%s`, r.Other, r.Duty, emails.String(), r.Committee, r.City, strings.Join(r.Stations, ", "), e2eGroupWait, e2eRepeatInterval, escalation)
}

// startAlertStack writes the secret and the routing file, starts the
// receivers and `resilience run --dev` with them.
func startAlertStack(t *testing.T) *alertStack {
	t.Helper()
	dir := t.TempDir()
	secret := []byte("e2e-webhook-secret-0123456789abcdef")
	must(t, os.WriteFile(filepath.Join(dir, "webhook.secret"), secret, 0o600))
	s := &alertStack{duty: newHookServer(t, secret), committee: newHookServer(t, secret), other: newHookServer(t, secret), mail: newSMTPSink(t)}
	routes := alertRoutes(alertRouting{Other: s.other.srv.URL + "/other", Duty: s.duty.srv.URL + "/duty",
		Committee: s.committee.srv.URL + "/committee", City: s.committee.srv.URL + "/city",
		Emails: []string{"{to: [truc.ban@example.invalid], lang: vi}"}, Stations: []string{e2eStation}, Escalation: true})
	routesFile := filepath.Join(dir, "routes.yaml")
	must(t, os.WriteFile(routesFile, []byte(routes), 0o600))
	s.mqttAddr, s.httpAddr = startEmbedded(t, []string{"--dev"}, "RESILIENCE_ALERTS_ROUTES_FILE="+routesFile,
		"RESILIENCE_ALERTS_SMTP_ADDR="+s.mail.addr, "RESILIENCE_ALERTS_SMTP_FROM=resilience@example.invalid")
	s.siren = newSirenDevice(t, s.mqttAddr, e2eStation)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.mqttAddr).SetClientID(e2eStation + "-logger").SetCleanSession(true)
	s.pub = mqtt.NewClient(o)
	if tok := s.pub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("station: mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { s.pub.Disconnect(100) })
	return s
}

// publishLevel publishes one water level reading of the station (the next
// seq, timestamped now) and returns when the broker acknowledged it.
func (s *alertStack) publishLevel(t *testing.T, v float64) time.Time {
	t.Helper()
	s.seq++
	now := time.Now().UTC()
	msg := fmt.Sprintf(`{"v":1,"station":%q,"seq":%d,"ts":%q,"readings":[{"sensor":"water_level","value":%.3f,"unit":"m"}]}`,
		e2eStation, s.seq, now.Format(time.RFC3339Nano), v)
	tok := s.pub.Publish("stations/"+e2eStation+"/readings", 1, false, msg)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish seq %d: %v", s.seq, tok.Error())
	}
	return now
}

// waitUntil polls cond until it holds, or fails the test after deadline.
func waitUntil(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within %s: %s", deadline, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiAlert is the part of the alert DTO the tests read.
type apiAlert struct {
	ID        string `json:"id"`
	Station   string `json:"station"`
	Rule      string `json:"rule"`
	State     string `json:"state"`
	Level     int    `json:"level"`
	SirenAcks []struct {
		Station   string    `json:"station"`
		At        time.Time `json:"at"`
		CommandID string    `json:"command_id"`
		Status    string    `json:"status"`
	} `json:"siren_acks"`
}

func (s *alertStack) alert(t *testing.T, id string) apiAlert {
	t.Helper()
	var a apiAlert
	getJSON(t, "http://"+s.httpAddr+"/api/v1/alerts/"+id, &a)
	return a
}

// act posts an operator action and wants 202.
func (s *alertStack) act(t *testing.T, id, kind string, body map[string]string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+s.httpAddr+"/api/v1/alerts/"+id+"/"+kind, bytes.NewReader(b))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	harness.Authorize(req) // the acting user is the token's (harness.APITokenName)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s %s: %s %s", id, kind, resp.Status, msg)
	}
}

// metrics reads the dispatcher's per-target gauges and counters from
// /metrics: name{target="..."} value.
func (s *alertStack) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "resilience_notification") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil {
			out[k] = f
		}
	}
	return out
}

func sentMetric(target string) string {
	return `resilience_notifications_sent_total{target="` + target + `"}`
}

func queuedMetric(target string) string {
	return `resilience_notifications_queued{target="` + target + `"}`
}

// counts is what each routed receiver got (distinct notifications).
type counts struct{ duty, email, siren, committee, city int }

func (s *alertStack) counts(t *testing.T) counts {
	var committee, city []hookDelivery
	for _, d := range s.committee.deliveries() {
		if d.body.Receiver == "city" {
			city = append(city, d)
		} else {
			committee = append(committee, d)
		}
	}
	return counts{duty: distinct(s.duty.deliveries()), email: len(s.mail.messages(t)), siren: len(s.siren.commands(t)),
		committee: distinct(committee), city: distinct(city)}
}

// quiesced reports whether every notification the dispatcher queued for
// the routed receivers has been confirmed by its channel and is the one
// the test's receiver got (nothing queued or in flight).
func (s *alertStack) quiesced(t *testing.T) bool {
	m, c := s.metrics(t), s.counts(t)
	for target, n := range map[string]int{"duty-webhook/webhook[0]": c.duty, "duty-email/email[0]": c.email,
		"sirens/siren[0]": c.siren, "committee/webhook[0]": c.committee, "city/webhook[0]": c.city} {
		if m[queuedMetric(target)] != 0 || int(m[sentMetric(target)]) != n {
			return false
		}
	}
	return true
}

// TestE2EAlertDelivery: a 9.5 m reading at Ái Nghĩa (above BĐ III, 9.0 m)
// through the embedded stack reaches each routed receiver once: the signed
// webhook, the email and the station's siren (whose device ack is shown on
// the alert through the API); unacknowledged, it escalates to the second
// tier no earlier than the tier's timeout; acknowledged through the API,
// nothing more is sent for 3 × repeat_interval; the all-clear is told once
// to each receiver that was told it fired.
func TestE2EAlertDelivery(t *testing.T) {
	s := startAlertStack(t)
	eventAt := s.publishLevel(t, 9.5)

	// One notification each, and still one after 2 × group_wait.
	waitUntil(t, "the webhook, the email and the siren got the alert", e2eDeadline, func() bool {
		c := s.counts(t)
		return c.duty >= 1 && c.email >= 1 && c.siren >= 1
	})
	first := s.siren.commands(t)[0]
	hook := s.duty.deliveries()[0]
	alertID := first.cmd.AlertID
	t.Logf("first notifications after the reading: webhook %s, email %s, siren %s",
		hook.at.Sub(eventAt), s.mail.messages(t)[0].at.Sub(eventAt), first.at.Sub(eventAt))
	time.Sleep(2 * e2eGroupWait) // the settle window: nothing more may arrive in it
	ds, mails, cmds := s.duty.deliveries(), s.mail.messages(t), s.siren.commands(t)
	if len(ds) != 1 || len(mails) != 1 || len(cmds) != 1 {
		t.Fatalf("after the settle window: %d webhook deliveries, %d emails, %d siren commands; want exactly 1 each", len(ds), len(mails), len(cmds))
	}
	if b := hook.body; b.Tier != 0 || b.Repeat != 0 || b.Receiver != "duty-webhook" || len(b.Alerts) != 1 ||
		b.Alerts[0].ID != alertID || b.Alerts[0].Kind != schemas.AlertFired || b.Alerts[0].Level != 3 || b.Alerts[0].Station != e2eStation {
		t.Fatalf("webhook body = %+v, want tier 0 repeat 0 of the fired level-3 alert %s", b, alertID)
	}
	if cmd := first.cmd; cmd.Station != e2eStation || cmd.Level != 3 || cmd.Pattern != "bd3" {
		t.Fatalf("siren command = %+v, want level 3 pattern bd3 at %s", cmd, e2eStation)
	}
	if mails[0].messageID == "" {
		t.Fatalf("email without a Message-ID: %+v", mails[0])
	}

	// The siren's ack on the alert.
	var shown apiAlert
	waitUntil(t, "the siren's ack is shown on the alert", e2eDeadline, func() bool {
		shown = s.alert(t, alertID)
		return len(shown.SirenAcks) > 0
	})
	if a := shown.SirenAcks[0]; a.Station != e2eStation || a.CommandID != first.cmd.ID || a.Status != "ok" || a.At.Before(first.cmd.At) {
		t.Fatalf("siren_acks = %+v, want station %s command %s status ok at or after %s", shown.SirenAcks, e2eStation, first.cmd.ID, first.cmd.At)
	}
	if shown.State != "firing" || shown.Rule != "level:water_level" || shown.Level != 3 {
		t.Fatalf("alert = %+v, want a firing level-3 level:water_level alert", shown)
	}

	// Unacknowledged: the second tier, no earlier than its timeout after the
	// first notification (its decision time, the siren command's At).
	waitUntil(t, "the escalation tier got the alert", e2eDeadline, func() bool { return s.counts(t).committee >= 1 })
	esc := s.committee.deliveries()[0]
	if gap := esc.at.Sub(first.cmd.At); gap < e2eTierAfter {
		t.Fatalf("escalation %s after the first notification, want no earlier than %s", gap, e2eTierAfter)
	} else {
		t.Logf("escalation %s after the first notification (tier after %s)", gap, e2eTierAfter)
	}
	if esc.body.Tier != 1 || esc.body.Receiver != "committee" || len(esc.body.Alerts) != 1 || esc.body.Alerts[0].ID != alertID {
		t.Fatalf("escalation body = %+v, want tier 1 to committee of %s", esc.body, alertID)
	}

	// Acknowledged through the API: no repeats, no escalations.
	s.act(t, alertID, "ack", map[string]string{"note": "e2e: siren heard, team dispatched"})
	waitUntil(t, "the alert shows acknowledged", e2eDeadline, func() bool { return s.alert(t, alertID).State == "acknowledged" })
	waitUntil(t, "every queued notification delivered", e2eDeadline, func() bool { return s.quiesced(t) })
	before := s.counts(t)
	t.Logf("before the ack window: %+v (repeats so far: webhook %d)", before, before.duty-1)
	time.Sleep(3 * e2eRepeatInterval) // the window: nothing may arrive in it
	if before.city != 0 {
		t.Fatalf("the second tier (after %s) was notified before the ack: %+v; the machine was too slow for this routing", e2eTier2After, before)
	}
	if after := s.counts(t); after != before {
		t.Fatalf("after the ack, %s later: %+v, want still %+v (no repeats, no escalations)", 3*e2eRepeatInterval, after, before)
	}

	// The all-clear (below BĐ I − 0.15 m): one resolve notification per
	// receiver told it fired. Two readings: a jump of 1 m or more is
	// suspect (quality:spike) and neither fires nor clears; the second
	// confirms it.
	s.publishLevel(t, 5.0)
	s.publishLevel(t, 5.0)
	waitUntil(t, "the resolve reached the webhook, the escalation tier and the email", e2eDeadline, func() bool {
		return len(withKind(s.duty.deliveries(), schemas.AlertResolved)) >= 1 &&
			len(withKind(s.committee.deliveries(), schemas.AlertResolved)) >= 1 &&
			len(s.mail.messages(t)) > before.email
	})
	waitUntil(t, "every queued notification delivered", e2eDeadline, func() bool { return s.quiesced(t) })
	time.Sleep(2 * e2eGroupWait) // settle: no second resolve
	for name, h := range map[string]*hookServer{"duty webhook": s.duty, "committee webhook": s.committee} {
		res := withKind(h.deliveries(), schemas.AlertResolved)
		if len(res) != 1 || distinct(res) != 1 {
			t.Errorf("%s: %d resolve deliveries (%d distinct), want 1", name, len(res), distinct(res))
		}
	}
	if got := len(s.mail.messages(t)) - before.email; got != 1 {
		t.Errorf("email: %d messages after the all-clear, want 1", got)
	}
	if a := s.alert(t, alertID); a.State != "resolved" {
		t.Errorf("alert state %q after the all-clear, want resolved", a.State)
	}
	for name, h := range map[string]*hookServer{"duty": s.duty, "committee": s.committee} {
		all := h.deliveries()
		t.Logf("%s webhook: %d raw deliveries, %d distinct notification ids", name, len(all), distinct(all))
		if len(all) != distinct(all) {
			t.Errorf("%s webhook: %d raw deliveries for %d notifications: a duplicate without a crash", name, len(all), distinct(all))
		}
	}
}

// TestE2EFailingWebhookDoesNotDelayOthers: the webhook receiver answers
// 500 throughout; the email and the siren still arrive while the webhook
// keeps failing (each channel has its own queue).
func TestE2EFailingWebhookDoesNotDelayOthers(t *testing.T) {
	s := startAlertStack(t)
	s.duty.status.Store(http.StatusInternalServerError)
	eventAt := s.publishLevel(t, 9.5)
	waitUntil(t, "the email and the siren got the alert while the webhook fails", e2eDeadline, func() bool {
		c := s.counts(t)
		return c.email >= 1 && c.siren >= 1
	})
	mailAt, sirenAt := s.mail.messages(t)[0].at, s.siren.commands(t)[0].at
	// The webhook was tried and keeps failing: at least two attempts, none
	// accepted.
	waitUntil(t, "the webhook was retried", e2eDeadline, func() bool { return len(s.duty.deliveries()) >= 2 })
	ds := s.duty.deliveries()
	for _, d := range ds {
		if d.status != http.StatusInternalServerError {
			t.Fatalf("webhook delivery answered %d, want 500", d.status)
		}
	}
	if m := s.metrics(t); m[sentMetric("duty-webhook/webhook[0]")] != 0 || m[`resilience_notification_attempts_failed_total{target="duty-webhook/webhook[0]"}`] < 1 {
		t.Fatalf("webhook metrics: sent %v failed %v; want none sent, failures counted",
			m[sentMetric("duty-webhook/webhook[0]")], m[`resilience_notification_attempts_failed_total{target="duty-webhook/webhook[0]"}`])
	}
	t.Logf("with the webhook failing (%d attempts so far, first %s after the reading): email %s, siren %s after the reading",
		len(ds), ds[0].at.Sub(eventAt), mailAt.Sub(eventAt), sirenAt.Sub(eventAt))
	if len(ds) > 0 && !mailAt.After(ds[0].at) && !sirenAt.After(ds[0].at) {
		t.Logf("email and siren arrived before the webhook's first attempt")
	}
}
