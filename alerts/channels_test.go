package alerts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/route"
)

func TestBuildChannels(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte(strings.Repeat("s", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const file = `receivers:
  - name: duty
    webhook: [{url: "http://127.0.0.1:1/hook", secret_file: hook.secret}]
    email: [{to: [a@example.invalid]}, {to: [b@example.invalid], lang: en}]
  - name: sirens
    siren: [{alert_station: true}]
route:
  receivers: [duty, sirens]
`
	tree, err := route.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	full := alerts.ChannelOptions{BaseDir: dir, SMTPAddr: "127.0.0.1:2525", SMTPFrom: "alerts@example.invalid",
		MQTTURL: "tcp://127.0.0.1:1883", ClientIDPrefix: "t-"}
	tests := []struct {
		name    string
		mutate  func(*alerts.ChannelOptions)
		wantErr error
		names   map[string]string
	}{
		{"all channels", func(*alerts.ChannelOptions) {}, nil,
			map[string]string{"duty": "webhook[0] email[0] email[1]", "sirens": "siren[0]"}},
		{"email without smtp", func(o *alerts.ChannelOptions) { o.SMTPAddr = "" }, alerts.ErrNoSMTP, nil},
		{"siren without broker", func(o *alerts.ChannelOptions) { o.MQTTURL = "" }, alerts.ErrNoMQTT, nil},
		{"secret file missing", func(o *alerts.ChannelOptions) { o.BaseDir = t.TempDir() }, os.ErrNotExist, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := full
			tc.mutate(&o)
			chans, err := alerts.BuildChannels(tree, o)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for rc, want := range tc.names {
				var got []string
				for _, ch := range chans.ByReceiver[rc] {
					got = append(got, ch.Name())
				}
				if strings.Join(got, " ") != want {
					t.Errorf("receiver %s channels %v, want %s", rc, got, want)
				}
			}
			if len(chans.Sirens) != 1 {
				t.Errorf("%d sirens, want 1", len(chans.Sirens))
			}
		})
	}
}
