package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Environment variables of the SMTP sink (aiosmtpd writing a Maildir) that
// deployments/local/services writes into .cache/services/env while it runs.
const (
	EnvSMTPAddr    = "SMTP_ADDR"
	EnvSMTPMaildir = "SMTP_MAILDIR"
)

// SMTP is the services script's name of the SMTP sink.
const SMTP = "smtp"

// SMTPEnv is where the SMTP sink listens (no auth, no TLS) and the Maildir
// it delivers every accepted mail to.
type SMTPEnv struct {
	Addr    string
	Maildir string
}

// RequireSMTP returns the SMTP sink's environment; like the other Require
// functions it skips the test when the variables are unset, and fails it
// under CI=true.
func RequireSMTP(t testing.TB) SMTPEnv {
	t.Helper()
	env, missing, err := loadSMTP(os.Getenv, os.Stat)
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

// loadSMTP reads the SMTP variables; a Maildir that is set but is not a
// directory is an error.
func loadSMTP(getenv func(string) string, stat func(string) (os.FileInfo, error)) (SMTPEnv, []string, error) {
	var env SMTPEnv
	var missing []string
	env.Addr = strings.TrimSpace(getenv(EnvSMTPAddr))
	if env.Addr == "" {
		missing = append(missing, EnvSMTPAddr)
	}
	env.Maildir = strings.TrimSpace(getenv(EnvSMTPMaildir))
	if env.Maildir == "" {
		missing = append(missing, EnvSMTPMaildir)
	} else if fi, err := stat(env.Maildir); err != nil || !fi.IsDir() {
		return SMTPEnv{}, nil, fmt.Errorf("%s: %s is not a directory (%v)", EnvSMTPMaildir, env.Maildir, err)
	}
	return env, missing, nil
}
