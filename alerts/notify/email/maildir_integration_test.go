package email_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/mail"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/notify/email"
	"github.com/resilience-project/resilience/internal/testenv"
)

// maildirCount counts the mails in dir (new/ and cur/) with Message-ID id:
// all copies and, deduplicated by Message-ID as a mailbox would, 0 or 1.
func maildirCount(t *testing.T, dir, id string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		files, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, f := range files {
			fh, err := os.Open(filepath.Join(dir, sub, f.Name()))
			if err != nil {
				continue // moved between new/ and cur/ meanwhile
			}
			m, err := mail.ReadMessage(fh)
			if err == nil && m.Header.Get("Message-ID") == id {
				n++
			}
			fh.Close()
		}
	}
	return n
}

// TestRealSMTPMaildir sends through the services script's aiosmtpd: a
// notification resent after a (simulated) crash arrives as a second copy
// with the same Message-ID. SMTP does not deduplicate; the Maildir count by
// Message-ID does.
func TestRealSMTPMaildir(t *testing.T) {
	env := testenv.RequireSMTP(t)
	ch, err := email.New(email.Config{Name: "email[0]", Addr: env.Addr, From: "alerts@resilience.invalid",
		To: []string{"duty@resilience.invalid"}, Lang: "vi", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	n := notification()
	n.ID = "it-" + hex.EncodeToString(b)
	msgID := email.MessageID(n.ID)
	for i := range 2 {
		if err := ch.Send(context.Background(), n); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for maildirCount(t, env.Maildir, msgID) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Maildir %s holds %d copies of %s within 30s, want 2", env.Maildir, maildirCount(t, env.Maildir, msgID), msgID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := maildirCount(t, env.Maildir, msgID); got != 2 {
		t.Errorf("copies = %d, want exactly 2 (one per SMTP transaction)", got)
	}
}
