package testenv

import (
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	files := map[string]string{
		"/pw":    "# users\ncollector:c0ll\nVG-AINGHIA:s3cret:with:colons\n\n",
		"/op":    "optoken\n",
		"/wr":    "  wrtoken  \n",
		"/empty": "\n",
		"/badpw": "no-colon-here\n",
	}
	readFile := func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
	full := map[string]string{
		EnvMQTTURL:          "tcp://127.0.0.1:1883",
		EnvMQTTSecureURL:    "tcp://127.0.0.1:1884",
		EnvMQTTPasswords:    "/pw",
		EnvKafkaBrokers:     "127.0.0.1:9092, 127.0.0.2:9092,",
		EnvInfluxURL:        "http://127.0.0.1:8086",
		EnvInfluxOrg:        "resilience",
		EnvInfluxBucket:     "readings",
		EnvInfluxToken:      "/op",
		EnvInfluxWriteToken: "/wr",
		EnvServices:         "/repo/deployments/local/services",
	}
	with := func(over map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := over[k]; ok {
				return v
			}
			return full[k]
		}
	}
	all := need{mqtt: true, kafka: true, influx: true}

	tests := []struct {
		name        string
		getenv      func(string) string
		need        need
		want        Env
		wantMissing []string
		wantErr     string
	}{
		{
			name:   "all set",
			getenv: with(nil),
			need:   all,
			want: Env{
				MQTTURL:          "tcp://127.0.0.1:1883",
				MQTTSecureURL:    "tcp://127.0.0.1:1884",
				MQTTPasswords:    map[string]string{"collector": "c0ll", "VG-AINGHIA": "s3cret:with:colons"},
				KafkaBrokers:     []string{"127.0.0.1:9092", "127.0.0.2:9092"},
				InfluxURL:        "http://127.0.0.1:8086",
				InfluxOrg:        "resilience",
				InfluxBucket:     "readings",
				InfluxToken:      "optoken",
				InfluxWriteToken: "wrtoken",
				ServicesScript:   "/repo/deployments/local/services",
			},
		},
		{
			name:   "kafka only ignores the rest",
			getenv: with(map[string]string{EnvMQTTURL: "", EnvInfluxToken: ""}),
			need:   need{kafka: true},
			want:   Env{KafkaBrokers: []string{"127.0.0.1:9092", "127.0.0.2:9092"}, ServicesScript: "/repo/deployments/local/services"},
		},
		{
			name:        "nothing set",
			getenv:      func(string) string { return "" },
			need:        all,
			wantMissing: []string{EnvMQTTURL, EnvMQTTSecureURL, EnvMQTTPasswords, EnvKafkaBrokers, EnvInfluxURL, EnvInfluxOrg, EnvInfluxBucket, EnvInfluxToken, EnvInfluxWriteToken},
		},
		{
			name:        "blank counts as missing",
			getenv:      with(map[string]string{EnvKafkaBrokers: "  "}),
			need:        need{kafka: true},
			want:        Env{ServicesScript: "/repo/deployments/local/services"},
			wantMissing: []string{EnvKafkaBrokers},
		},
		{
			name:    "unreadable token file",
			getenv:  with(map[string]string{EnvInfluxToken: "/nope"}),
			need:    need{influx: true},
			wantErr: EnvInfluxToken,
		},
		{
			name:    "empty token file",
			getenv:  with(map[string]string{EnvInfluxWriteToken: "/empty"}),
			need:    need{influx: true},
			wantErr: "is empty",
		},
		{
			name:    "malformed passwords file",
			getenv:  with(map[string]string{EnvMQTTPasswords: "/badpw"}),
			need:    need{mqtt: true},
			wantErr: "line 1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, missing, err := load(tc.getenv, readFile, tc.need)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(missing, tc.wantMissing) {
				t.Errorf("missing = %v, want %v", missing, tc.wantMissing)
			}
			if len(tc.wantMissing) == 0 && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("env = %+v\nwant  %+v", got, tc.want)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	tests := []struct {
		val  string
		want bool
	}{{"", false}, {"false", false}, {"0", false}, {"No", false}, {"true", true}, {"1", true}, {"TRUE", true}, {"yes", true}}
	for _, tc := range tests {
		got := InCI(func(k string) string {
			if k == "CI" {
				return tc.val
			}
			return ""
		})
		if got != tc.want {
			t.Errorf("InCI(CI=%q) = %v, want %v", tc.val, got, tc.want)
		}
	}
}

// Kafka topic names: [a-zA-Z0-9._-], at most 249; we promise a stricter set.
var nameRe = regexp.MustCompile(`^[a-z0-9._-]{1,100}$`)

func TestUniqueName(t *testing.T) {
	tests := []struct {
		prefix, test, suffix, want string
	}{
		{"readings", "TestKafka/sub_test#01", "deadbeef", "readings-testkafka-sub_test-01-deadbeef"},
		{"", "TestX", "00", "testx-00"},
		{"My Topic!", "Test", "ab", "my-topic-test-ab"},
		{"p", strings.Repeat("Long/", 40), "ff", "p-" + strings.TrimSuffix(strings.Repeat("long-", 12), "-") + "-ff"},
	}
	for _, tc := range tests {
		got := uniqueName(tc.prefix, tc.test, tc.suffix)
		if got != tc.want {
			t.Errorf("uniqueName(%q, %q, %q) = %q, want %q", tc.prefix, tc.test, tc.suffix, got, tc.want)
		}
		if !nameRe.MatchString(got) {
			t.Errorf("uniqueName(%q, %q, %q) = %q: not a safe name", tc.prefix, tc.test, tc.suffix, got)
		}
	}
	a, b := UniqueName(t, "x"), UniqueName(t, "x")
	if a == b {
		t.Errorf("UniqueName returned %q twice", a)
	}
	if !nameRe.MatchString(a) {
		t.Errorf("UniqueName = %q: not a safe name", a)
	}
}

func TestParsePasswords(t *testing.T) {
	_, err := ParsePasswords(":nouser\n")
	if err == nil {
		t.Fatal("want an error for a line without a user")
	}
	got, err := ParsePasswords("a:1\r\nb:2")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("got %v", got)
	}
}
