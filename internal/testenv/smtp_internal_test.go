package testenv

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLoadSMTP(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		vars    map[string]string
		want    SMTPEnv
		missing []string
		err     string
	}{
		{"both set", map[string]string{EnvSMTPAddr: "127.0.0.1:2525", EnvSMTPMaildir: dir}, SMTPEnv{"127.0.0.1:2525", dir}, nil, ""},
		{"none set", nil, SMTPEnv{}, []string{EnvSMTPAddr, EnvSMTPMaildir}, ""},
		{"no maildir", map[string]string{EnvSMTPAddr: " 127.0.0.1:2525 "}, SMTPEnv{Addr: "127.0.0.1:2525"}, []string{EnvSMTPMaildir}, ""},
		{"maildir missing", map[string]string{EnvSMTPAddr: "a:1", EnvSMTPMaildir: dir + "/nope"}, SMTPEnv{}, nil, "is not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, missing, err := loadSMTP(func(k string) string { return c.vars[k] }, os.Stat)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || env != c.want || !slices.Equal(missing, c.missing) {
				t.Errorf("loadSMTP = %+v, %v, %v; want %+v, %v", env, missing, err, c.want, c.missing)
			}
		})
	}
}
