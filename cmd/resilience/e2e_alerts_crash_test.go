package main

// Crash tests of the alerts service on the real servers (issue 8, "Must
// show"): `resilience alerts` is killed with SIGKILL (a) after consuming an
// alert event and before notifying, (b) after a channel delivered a
// notification and before the notification log recorded it, (c) while the
// SMTP server is down; after a restart every notification goes out exactly
// once, counted by what the receivers tell apart. The crashes of (a) and
// (b) are at exact points: the test knob RESILIENCE_CRASHPOINT
// (alerts/crashpoint) makes the process SIGKILL itself there.
//
// The window of (b) cannot be closed (a channel cannot deliver and record
// atomically), so a resend after the crash is expected there; it carries
// the same idempotency key (webhook X-Resilience-Notification-Id, email
// Message-ID, siren command id), and the test asserts that each receiver
// got exactly one DISTINCT notification per key, and that the crash really
// happened in the window (at least one raw duplicate somewhere).

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/crashpoint"
	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// waitKilled waits for p to die of SIGKILL (its own crash point).
func waitKilled(t *testing.T, p *harness.Proc, why string) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(e2eDeadline):
		t.Fatalf("alerts process still running %s after %s; log:\n%s", why, e2eDeadline, p.LogTail(4000))
	}
	_, err := p.Exited()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("alerts process exited with %v, want killed by SIGKILL %s", err, why)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("alerts process exited with %v, want killed by SIGKILL %s", err, why)
	}
}

// sirenDistinct counts the distinct command ids among cmds.
func sirenDistinct(cmds []sirenCmd) int {
	seen := map[string]bool{}
	for _, c := range cmds {
		seen[c.cmd.ID] = true
	}
	return len(seen)
}

// hooksOf keeps the deliveries naming an alert of station.
func hooksOf(ds []hookDelivery, station string) []hookDelivery {
	var out []hookDelivery
	for _, d := range ds {
		for _, a := range d.body.Alerts {
			if a.Station == station {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// TestE2EAlertsCrashAfterConsume (a): the alerts service dies right after
// folding the first station's alert event, before the dispatcher saw it;
// while it is down a second station's alert (BĐ I) is raised. After the restart
// both alerts are notified, each exactly once per receiver (raw, not only
// distinct: nothing had been sent before the crash).
func TestE2EAlertsCrashAfterConsume(t *testing.T) {
	smtp := testenv.RequireSMTP(t)
	r := startRealAlerts(t, smtp.Addr, smtp.Maildir, realRouting{Stations: 2})
	p := r.StartAlerts(t, true, crashpoint.Env+"="+crashpoint.AfterConsume)
	r.publishLevel(t, 7.5)
	waitKilled(t, p, "after consuming the first alert event")
	if n := len(r.duty.deliveries()) + len(r.mails(t)) + len(r.siren.commands(t)); n != 0 {
		t.Fatalf("%d notifications before the crash after consume, want none", n)
	}
	// Raised while the service is down: BĐ I only (5.2 m), since two
	// stations of the scenario's one basin at BĐ II or more raise a basin
	// alert, which inhibits its member stations' notifications.
	down := r.stations[1]
	r.publishLevelOf(t, down, 5.2)
	r.StartAlerts(t, true)
	for _, st := range r.stations {
		waitUntil(t, "both alerts notified on every channel after the restart ("+st+")", e2eDeadline, func() bool {
			return len(hooksOf(r.duty.deliveries(), st)) >= 1 && len(r.mailsOf(t, st)) >= 2 && len(r.sirens[st].commands(t)) >= 1
		})
	}
	waitUntil(t, "nothing queued", e2eDeadline, func() bool { return quiesced(t, r.alerts.HTTP) })
	time.Sleep(2 * e2eGroupWait) // settle: no duplicate
	for _, st := range r.stations {
		hs, ms, cs := hooksOf(r.duty.deliveries(), st), r.mailsOf(t, st), r.sirens[st].commands(t)
		if len(hs) != 1 || len(ms) != 2 || distinctMail(ms) != 2 || len(cs) != 1 {
			t.Errorf("%s: %d webhook deliveries, %d mails (%d distinct), %d siren commands; want 1, 2, 2, 1", st, len(hs), len(ms), distinctMail(ms), len(cs))
		}
	}
}

// TestE2EAlertsCrashAfterNotify (b): the alerts service dies right after a
// channel confirmed the alert's first notification and before the log
// recorded it as sent. After the restart the pending notification is sent
// again with the same id: each receiver has exactly one distinct
// notification (webhook id, Message-ID, siren command id), and at least
// one raw duplicate shows the crash was inside the window.
func TestE2EAlertsCrashAfterNotify(t *testing.T) {
	smtp := testenv.RequireSMTP(t)
	r := startRealAlerts(t, smtp.Addr, smtp.Maildir, realRouting{})
	p := r.StartAlerts(t, true, crashpoint.Env+"="+crashpoint.AfterNotify)
	r.publishLevel(t, 7.5)
	waitKilled(t, p, "after the first confirmed notification")
	rawBefore := len(r.duty.deliveries()) + len(r.mails(t)) + len(r.siren.commands(t))
	if rawBefore < 1 {
		t.Fatalf("killed after notify with no notification delivered")
	}
	r.StartAlerts(t, true)
	waitUntil(t, "every channel notified after the restart", e2eDeadline, func() bool {
		return distinct(r.duty.deliveries()) >= 1 && distinctMail(r.mails(t)) >= 2 && sirenDistinct(r.siren.commands(t)) >= 1
	})
	waitUntil(t, "nothing queued", e2eDeadline, func() bool { return quiesced(t, r.alerts.HTTP) })
	time.Sleep(2 * e2eGroupWait) // settle
	ds, ms, cs := r.duty.deliveries(), r.mails(t), r.siren.commands(t)
	if distinct(ds) != 1 || distinctMail(ms) != 2 || sirenDistinct(cs) != 1 {
		t.Fatalf("distinct notifications: webhook %d, mail %d, siren %d; want 1, 2 (vi, en), 1", distinct(ds), distinctMail(ms), sirenDistinct(cs))
	}
	raw := len(ds) + len(ms) + len(cs)
	t.Logf("raw deliveries: webhook %d, mail %d, siren %d (%d before the crash); distinct 1, 2, 1", len(ds), len(ms), len(cs), rawBefore)
	if raw-4 < 1 || raw-4 > 4 {
		t.Errorf("%d raw deliveries for 4 distinct notifications: want 1 to 4 resends with the same ids (the crash was inside the send → record window)", raw)
	}
	for _, d := range ds {
		if d.body.Alerts[0].Kind != schemas.AlertFired {
			t.Errorf("webhook delivery %s of kind %s, want only the fired notification", d.id, d.body.Alerts[0].Kind)
		}
	}
}

// ownSMTP is an aiosmtpd of the test's own (the services script's python)
// on a free port, so the test can stop it without touching the shared one.
type ownSMTP struct {
	addr, maildir string
	cmd           *exec.Cmd
}

// smtpPython finds an interpreter that imports aiosmtpd, as the services
// script does (/usr/bin/python3 first, then python3 on PATH).
func smtpPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import aiosmtpd").Run() == nil {
			return path
		}
	}
	t.Fatal("no python3 imports aiosmtpd (the services script installs it with `up`)")
	return ""
}

func newOwnSMTP(t *testing.T) *ownSMTP {
	t.Helper()
	dir := t.TempDir()
	s := &ownSMTP{addr: freeAddr(t), maildir: filepath.Join(dir, "maildir")}
	for _, sub := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(s.maildir, sub), 0o700))
	}
	t.Cleanup(s.stop)
	return s
}

// start runs aiosmtpd and waits until it answers.
func (s *ownSMTP) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(smtpPython(t), "-m", "aiosmtpd", "-n", "-l", s.addr, "-c", "aiosmtpd.handlers.Mailbox", s.maildir)
	must(t, s.cmd.Start())
	waitUntil(t, "aiosmtpd answers on "+s.addr, e2eDeadline, func() bool {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 3)
		_, err = c.Read(b)
		return err == nil && string(b) == "220"
	})
}

// stop kills this test's aiosmtpd (only it: by its own pid).
func (s *ownSMTP) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// TestE2EAlertsCrashSMTPDown (c): the SMTP server is down when the alert
// fires: the webhook and the siren are notified, the email is retried; the
// alerts service is SIGKILLed during the outage, the SMTP server comes
// back, the service restarts: each email arrives exactly once (raw: none
// had been accepted before), and the webhook and siren are not repeated.
func TestE2EAlertsCrashSMTPDown(t *testing.T) {
	testenv.RequireSMTP(t) // the real servers, and an aiosmtpd the script installed
	own := newOwnSMTP(t)   // not started: down
	r := startRealAlerts(t, own.addr, own.maildir, realRouting{})
	p := r.StartAlerts(t, true)
	r.publishLevel(t, 7.5)
	waitUntil(t, "the webhook and the siren notified while SMTP is down", e2eDeadline, func() bool {
		return len(r.duty.deliveries()) >= 1 && len(r.siren.commands(t)) >= 1
	})
	waitUntil(t, "the email failed at least once", e2eDeadline, func() bool {
		return metric(t, p.HTTP, `resilience_notification_attempts_failed_total{target="duty-email/email[0]"}`) >= 1
	})
	p.Kill()
	<-p.Done()
	own.start(t)
	r.StartAlerts(t, true)
	waitUntil(t, "both emails delivered after the restart", e2eDeadline, func() bool { return len(r.mails(t)) >= 2 })
	waitUntil(t, "nothing queued", e2eDeadline, func() bool { return quiesced(t, r.alerts.HTTP) })
	time.Sleep(2 * e2eGroupWait) // settle
	ds, ms, cs := r.duty.deliveries(), r.mails(t), r.siren.commands(t)
	if len(ds) != 1 || len(ms) != 2 || distinctMail(ms) != 2 || len(cs) != 1 {
		t.Fatalf("webhook %d, mails %d (%d distinct), siren %d; want 1, 2, 2, 1", len(ds), len(ms), distinctMail(ms), len(cs))
	}
}

// metric reads one sample of the process's /metrics (0 if absent).
func metric(t *testing.T, httpAddr, sample string) float64 {
	t.Helper()
	return (&alertStack{httpAddr: httpAddr}).metrics(t)[sample]
}

// quiesced reports whether the alerts process has nothing queued for any
// channel.
func quiesced(t *testing.T, httpAddr string) bool {
	t.Helper()
	for k, v := range (&alertStack{httpAddr: httpAddr}).metrics(t) {
		if strings.HasPrefix(k, "resilience_notifications_queued{") && v != 0 {
			return false
		}
	}
	return true
}
