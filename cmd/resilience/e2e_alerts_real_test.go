package main

// End-to-end proof of alert delivery on the REAL servers (issue 8, "Alerts
// reach people"): `resilience ingest`, `process` and `alerts` as separate
// processes against the services script's Mosquitto, Kafka, InfluxDB and
// SMTP sink (aiosmtpd writing a Maildir). Every run has its own topics,
// groups, bucket and a station id with a random tag, so reruns on the same
// servers see nothing of earlier runs: the Maildir, shared by every test,
// is filtered by that station id.

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// realRouting is what a real-server test routes to.
type realRouting struct {
	// Escalation adds the tiers committee (after e2eTierAfter) and city
	// (after e2eTier2After) to the station's route.
	Escalation bool
	// Stations is the number of stations (default 1), each routed alike.
	Stations int
}

// realAlerts is one scenario on the real servers with the test's
// receivers and an alerts process the test may kill and restart.
type realAlerts struct {
	e                 *e2e
	station           string // the first station
	stations          []string
	duty, committee   *hookServer
	siren             *sirenDevice            // the first station's
	sirens            map[string]*sirenDevice // by station
	smtpAddr, maildir string
	cfgPath           string
	alerts            *harness.Proc
	seq               map[string]uint64
}

// startRealAlerts starts a scenario of one station, its receivers, and
// `resilience ingest` and `process`; StartAlerts starts the alerts service.
// smtpAddr and maildir are the SMTP server the emails go to.
func startRealAlerts(t *testing.T, smtpAddr, maildir string, rt realRouting) *realAlerts {
	t.Helper()
	e := newE2E(t, max(1, rt.Stations))
	secret := []byte("e2e-real-webhook-secret-0123456789abcdef")
	must(t, os.WriteFile(filepath.Join(e.dir, "webhook.secret"), secret, 0o600))
	r := &realAlerts{e: e, station: e.stations[0], stations: e.stations, duty: newHookServer(t, secret), committee: newHookServer(t, secret),
		smtpAddr: smtpAddr, maildir: maildir, sirens: map[string]*sirenDevice{}, seq: map[string]uint64{}}
	routes := alertRoutes(alertRouting{Other: r.committee.srv.URL + "/other", Duty: r.duty.srv.URL + "/duty",
		Committee: r.committee.srv.URL + "/committee", City: r.committee.srv.URL + "/city",
		Emails:   []string{"{to: [truc.ban@example.invalid], lang: vi}", "{to: [duty.officer@example.invalid], lang: en}"},
		Stations: r.stations, Escalation: rt.Escalation})
	routesFile := filepath.Join(e.dir, "routes.yaml")
	must(t, os.WriteFile(routesFile, []byte(routes), 0o600))
	e.writeConfig()
	f, err := os.OpenFile(e.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = fmt.Fprintf(f, "alerts:\n  routes_file: %s\n  smtp: {addr: %q, from: %q}\n  nflog: {kind: file}\n",
		routesFile, smtpAddr, "resilience-"+strings.ToLower(r.station)+"@example.invalid")
	must(t, err)
	must(t, f.Close())
	r.cfgPath = e.cfgPath
	e.start("ingest")
	e.start("process")
	for _, st := range r.stations {
		r.sirens[st] = newSirenDevice(t, strings.TrimPrefix(e.s.Servers.MQTTURL, "tcp://"), st)
	}
	r.siren = r.sirens[r.station]
	return r
}

// StartAlerts starts `resilience alerts` (data dir kept across restarts:
// its notification log) with extra environment, and waits for /readyz
// unless wait is false (a process that will kill itself may not get there).
func (r *realAlerts) StartAlerts(t *testing.T, wait bool, env ...string) *harness.Proc {
	t.Helper()
	p, err := harness.StartProc(harness.ProcSpec{Bin: binPath, Name: "alerts", Mode: "alerts", Config: r.cfgPath, HTTP: freeAddr(t),
		Log: filepath.Join(r.e.dir, fmt.Sprintf("alerts-%d.log", time.Now().UnixNano())),
		Env: append([]string{"RESILIENCE_DATA_DIR=" + filepath.Join(r.e.dir, "data-alerts")}, env...)})
	must(t, err)
	t.Cleanup(func() {
		p.Stop(15 * time.Second)
		if t.Failed() {
			t.Logf("--- alerts log (%s) ---\n%s", p.Log, p.LogTail(6000))
		}
	})
	if wait {
		must(t, p.WaitReady(context.Background(), 120*time.Second))
	}
	r.alerts = p
	return p
}

// publishLevel publishes one water level reading of the first station.
func (r *realAlerts) publishLevel(t *testing.T, v float64) time.Time {
	t.Helper()
	return r.publishLevelOf(t, r.station, v)
}

// publishLevelOf publishes one water level reading of station.
func (r *realAlerts) publishLevelOf(t *testing.T, station string, v float64) time.Time {
	t.Helper()
	r.seq[station]++
	now := time.Now().UTC()
	r.e.publishRaw([]struct{ topic, payload string }{{"stations/" + station + "/readings",
		fmt.Sprintf(`{"v":1,"station":%q,"seq":%d,"ts":%q,"readings":[{"sensor":"water_level","value":%.3f,"unit":"m"}]}`,
			station, r.seq[station], now.Format(time.RFC3339Nano), v)}})
	return now
}

func (r *realAlerts) alert(t *testing.T, id string) apiAlert {
	t.Helper()
	s := alertStack{httpAddr: r.alerts.HTTP}
	return s.alert(t, id)
}

func (r *realAlerts) act(t *testing.T, id, kind string, body map[string]string) {
	t.Helper()
	s := alertStack{httpAddr: r.alerts.HTTP}
	s.act(t, id, kind, body)
}

// maildirMsg is one mail of the station found in the Maildir.
type maildirMsg struct {
	file, messageID, notificationID, subject, lang string
	date                                           time.Time
	plain, html                                    string
}

// mails reads every mail about the first station from the Maildir.
func (r *realAlerts) mails(t *testing.T) []maildirMsg {
	t.Helper()
	return r.mailsOf(t, r.station)
}

// mailsOf reads every mail about station from the Maildir (new/ and cur/).
func (r *realAlerts) mailsOf(t *testing.T, station string) []maildirMsg {
	t.Helper()
	var out []maildirMsg
	for _, sub := range []string{"new", "cur"} {
		files, err := os.ReadDir(filepath.Join(r.maildir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, f := range files {
			if m, ok := readMaildirMsg(t, filepath.Join(r.maildir, sub, f.Name()), station); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// readMaildirMsg parses one mail; ok is false for a mail about another
// station (or one being moved by another reader).
func readMaildirMsg(t *testing.T, path, station string) (maildirMsg, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), station) {
		return maildirMsg{}, false
	}
	m, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		t.Errorf("mail %s: %v", path, err)
		return maildirMsg{}, false
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || !strings.Contains(subject, "("+station+")") {
		return maildirMsg{}, false
	}
	out := maildirMsg{file: path, messageID: m.Header.Get("Message-ID"), notificationID: m.Header.Get("X-Resilience-Notification-Id"),
		subject: subject, lang: m.Header.Get("Content-Language")}
	out.date, _ = m.Header.Date()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Errorf("mail %s: Content-Type %q, want multipart/alternative", path, m.Header.Get("Content-Type"))
		return out, true
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err != nil {
			break
		}
		body, _ := io.ReadAll(p)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.plain = string(body)
		case "text/html":
			out.html = string(body)
		}
	}
	return out, true
}

// distinctMail counts the distinct Message-IDs among ms.
func distinctMail(ms []maildirMsg) int {
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.messageID] = true
	}
	return len(seen)
}

// sirenPatterns counts the siren commands by pattern.
func sirenPatterns(cmds []sirenCmd) map[string]int {
	out := map[string]int{}
	for _, c := range cmds {
		out[c.cmd.Pattern]++
	}
	return out
}

// TestE2EAlertsRealServers: a reading above BĐ III (7.5 m, III is 7.0 m)
// through the real Mosquitto, Kafka and processor reaches each routed
// receiver exactly once: the signed webhook (the test's receiver verifies
// the HMAC and the timestamp window), one email per language in the
// Maildir (subject and body name the station and BĐ III, plain-text and
// HTML parts) and one siren command on the real broker, whose device ack
// is shown on the alert; unacknowledged, it escalates to the committee
// tier no earlier than the tier's timeout after the first notification;
// an operator ack through the API stops the second tier and the repeats;
// the all-clear sends one resolve notification per receiver.
func TestE2EAlertsRealServers(t *testing.T) {
	smtp := testenv.RequireSMTP(t)
	r := startRealAlerts(t, smtp.Addr, smtp.Maildir, realRouting{Escalation: true})
	r.StartAlerts(t, true)
	eventAt := r.publishLevel(t, 7.5)

	waitUntil(t, "the webhook, both emails and the siren got the alert", e2eDeadline, func() bool {
		return distinct(r.duty.deliveries()) >= 1 && len(r.mails(t)) >= 2 && len(r.siren.commands(t)) >= 1
	})
	first := r.siren.commands(t)[0]
	alertID := first.cmd.AlertID
	hook := r.duty.deliveries()[0]
	t.Logf("first notifications after the reading: webhook %s, siren %s", hook.at.Sub(eventAt), first.at.Sub(eventAt))
	time.Sleep(2 * e2eGroupWait) // the settle window: nothing more may arrive in it
	ds, mails, cmds := r.duty.deliveries(), r.mails(t), r.siren.commands(t)
	if len(ds) != 1 || len(mails) != 2 || len(cmds) != 1 {
		t.Fatalf("after the settle window: %d webhook deliveries, %d emails, %d siren commands; want 1, 2 (vi, en), 1", len(ds), len(mails), len(cmds))
	}
	if b := hook.body; b.Tier != 0 || b.Repeat != 0 || b.Receiver != "duty-webhook" || len(b.Alerts) != 1 ||
		b.Alerts[0].ID != alertID || b.Alerts[0].Kind != schemas.AlertFired || b.Alerts[0].Level != 3 || b.Alerts[0].Station != r.station {
		t.Fatalf("webhook body = %+v, want tier 0 repeat 0 of the fired level-3 alert %s", b, alertID)
	}
	if !strings.Contains(hook.body.Text["vi"].Body, "BĐ III") || !strings.Contains(hook.body.Text["en"].Body, "BĐ III") {
		t.Errorf("webhook texts %+v do not name BĐ III", hook.body.Text)
	}
	if cmd := first.cmd; cmd.Station != r.station || cmd.Level != 3 || cmd.Pattern != "bd3" {
		t.Fatalf("siren command = %+v, want level 3 pattern bd3 at %s", cmd, r.station)
	}
	langs := map[string]maildirMsg{}
	for _, m := range mails {
		langs[m.lang] = m
	}
	for lang, word := range map[string]string{"vi-VN": "CẢNH BÁO", "en-US": "ALERT"} {
		m, ok := langs[lang]
		switch {
		case !ok:
			t.Errorf("no %s email among %+v", lang, mails)
		case !strings.Contains(m.subject, word) || !strings.Contains(m.subject, r.station):
			t.Errorf("%s email subject %q, want %q and the station", lang, m.subject, word)
		case !strings.Contains(m.plain, "BĐ III") || !strings.Contains(m.html, "BĐ III") || !strings.Contains(m.plain, "7.5"):
			t.Errorf("%s email parts do not name BĐ III and 7.5:\nplain %q\nhtml %q", lang, m.plain, m.html)
		case m.messageID == "" || !strings.Contains(m.messageID, m.notificationID):
			t.Errorf("%s email Message-ID %q, notification id %q", lang, m.messageID, m.notificationID)
		}
	}

	var shown apiAlert
	waitUntil(t, "the siren's ack is shown on the alert", e2eDeadline, func() bool {
		shown = r.alert(t, alertID)
		return len(shown.SirenAcks) > 0
	})
	if a := shown.SirenAcks[0]; a.Station != r.station || a.CommandID != first.cmd.ID || a.Status != "ok" {
		t.Fatalf("siren_acks = %+v, want station %s command %s status ok", shown.SirenAcks, r.station, first.cmd.ID)
	}

	// Unacknowledged: the committee tier, no earlier than its timeout after
	// the first notification's decision (the siren command's At, stamped by
	// the dispatcher).
	committee := func() []hookDelivery {
		var out []hookDelivery
		for _, d := range r.committee.deliveries() {
			if d.body.Receiver == "committee" {
				out = append(out, d)
			}
		}
		return out
	}
	waitUntil(t, "the escalation tier got the alert", e2eDeadline, func() bool { return len(committee()) >= 1 })
	esc := committee()[0]
	if gap := esc.at.Sub(first.cmd.At); gap < e2eTierAfter {
		t.Fatalf("escalation %s after the first notification, want no earlier than %s", gap, e2eTierAfter)
	} else {
		t.Logf("escalation %s after the first notification (tier after %s)", gap, e2eTierAfter)
	}
	if esc.body.Tier != 1 || len(esc.body.Alerts) != 1 || esc.body.Alerts[0].ID != alertID {
		t.Fatalf("escalation body = %+v, want tier 1 of %s", esc.body, alertID)
	}

	// Acknowledged through the API: no repeat, no second tier, up to past
	// both the second tier's timeout and the repeat interval.
	r.act(t, alertID, "ack", map[string]string{"note": "e2e real: siren heard"})
	waitUntil(t, "the alert shows acknowledged", e2eDeadline, func() bool { return r.alert(t, alertID).State == "acknowledged" })
	total := func() int {
		return len(r.duty.deliveries()) + len(r.committee.deliveries()) + len(r.mails(t)) + len(r.siren.commands(t))
	}
	before := total()
	if ackAt := time.Now(); ackAt.Sub(first.cmd.At) >= e2eTier2After {
		t.Fatalf("the ack came %s after the first notification, after the second tier's %s: the machine was too slow for this routing", ackAt.Sub(first.cmd.At), e2eTier2After)
	}
	windowEnd := first.cmd.At.Add(max(e2eTier2After, e2eRepeatInterval) + 10*time.Second)
	time.Sleep(time.Until(windowEnd)) // the window: nothing may arrive in it
	if after := total(); after != before {
		t.Fatalf("after the ack: %d notifications, want still %d (no repeats, no escalation to city)", after, before)
	}

	// The all-clear: two readings (a 3 m drop is suspect; the second confirms).
	mailsBefore := len(r.mails(t))
	r.publishLevel(t, 4.5)
	r.publishLevel(t, 4.5)
	waitUntil(t, "the resolve reached every receiver", e2eDeadline, func() bool {
		return len(withKind(r.duty.deliveries(), schemas.AlertResolved)) >= 1 &&
			len(withKind(committee(), schemas.AlertResolved)) >= 1 &&
			len(r.mails(t)) >= mailsBefore+2 && sirenPatterns(r.siren.commands(t))["off"] >= 1
	})
	time.Sleep(2 * e2eGroupWait) // settle: no second resolve
	for name, ds := range map[string][]hookDelivery{"duty webhook": r.duty.deliveries(), "committee webhook": committee()} {
		if res := withKind(ds, schemas.AlertResolved); len(res) != 1 {
			t.Errorf("%s: %d resolve deliveries, want 1", name, len(res))
		}
		if len(ds) != distinct(ds) {
			t.Errorf("%s: %d raw deliveries for %d notifications: a duplicate without a crash", name, len(ds), distinct(ds))
		}
	}
	if city := len(r.committee.deliveries()) - len(committee()); city != 0 {
		t.Errorf("city tier got %d notifications, want none (acknowledged before its timeout)", city)
	}
	all := r.mails(t)
	if len(all) != 4 || distinctMail(all) != 4 {
		t.Errorf("Maildir: %d mails (%d distinct) about %s, want 4 (fired and resolved, vi and en)", len(all), distinctMail(all), r.station)
	}
	resolved := 0
	for _, m := range all {
		if strings.Contains(m.subject, "KẾT THÚC") || strings.Contains(m.subject, "RESOLVED") {
			resolved++
		}
	}
	if resolved != 2 {
		t.Errorf("%d resolve emails, want 2 (vi, en)", resolved)
	}
	if p := sirenPatterns(r.siren.commands(t)); p["bd3"] != 1 || p["off"] != 1 || len(r.siren.commands(t)) != 2 {
		t.Errorf("siren commands by pattern %v, want bd3 once and off once", p)
	}
	if a := r.alert(t, alertID); a.State != "resolved" {
		t.Errorf("alert state %q after the all-clear, want resolved", a.State)
	}
}
