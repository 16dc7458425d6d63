package route_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/alerts/route"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const base = `
receivers:
  - {name: duty, webhook: [{url: "http://127.0.0.1:1/h", secret_file: /tmp/s}]}
  - {name: district, email: [{to: [a@example.org]}]}
  - {name: city, email: [{to: [b@example.org], lang: en}]}
  - {name: sirens, siren: [{alert_station: true}]}
`

func TestExampleFileParses(t *testing.T) {
	tree, err := route.Load(filepath.Join("..", "..", "deployments", "config", "routes.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := tree.Match(route.Labels{route.LabelDistrict: "Đại Lộc", route.LabelSensor: "water_level",
		route.LabelSeverity: "Extreme", route.LabelStation: "VG-AINGHIA", route.LabelRule: "level:water_level"})
	var paths []string
	for _, r := range got {
		paths = append(paths, r.Path)
	}
	if want := []string{"route.routes[0]", "route.routes[1]"}; !slices.Equal(paths, want) {
		t.Fatalf("Match paths = %v, want %v", paths, want)
	}
	if got[1].Escalation[0].Receivers[0] != "dailoc-committee" || got[1].GroupWait != 30*time.Second {
		t.Errorf("routes[1] = %+v: want inherited group_wait 30s and its own escalation", got[1])
	}
	if got[0].GroupWait != 0 || got[0].RepeatInterval != 30*time.Minute || got[0].GroupInterval != 5*time.Minute {
		t.Errorf("routes[0] timings = %s/%s/%s", got[0].GroupWait, got[0].GroupInterval, got[0].RepeatInterval)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"bad severity", base + `
route:
  receivers: [duty]
  routes:
    - {matchers: {station: [A]}}
    - {matchers: {station: [B]}}
    - {matchers: {severity: [Sever]}}
`, []string{`route.routes[2].matchers.severity: "Sever" is not one of Minor, Moderate, Severe, Extreme`}},
		{"unknown receiver and label", base + `
route:
  receivers: [nobody]
  group_by: [colour]
  routes: [{matchers: {colour: [red]}}]
`, []string{`route.receivers[0]: unknown receiver "nobody"`, `route.group_by[0]: "colour" is not one of`,
			`route.routes[0].matchers: "colour" is not one of`}},
		{"escalation order", base + `
route:
  receivers: [duty]
  escalation: [{receivers: [district], after: 30m}, {receivers: [city], after: 15m}, {receivers: [], after: 1h}]
`, []string{`route.escalation[1].after: 15m0s must be positive and later than the previous tier (30m0s)`,
			`route.escalation[2].receivers: at least one receiver is required`}},
		{"receivers", `
receivers:
  - {name: "a b"}
  - {name: x, webhook: [{url: "ftp://h/x"}], email: [{to: ["Bob <b@example.org>"], lang: fr}], siren: [{stations: ["bad id"]}, {}]}
  - {name: x, email: [{to: [c@example.org]}]}
route: {receivers: [x]}
`, []string{`receivers[0].name: "a b" must match`, `receivers[0]: receiver "a b" has no channel`,
			`receivers[1].webhook[0].url: "ftp://h/x" is not an absolute http(s) URL`, `receivers[1].webhook[0].secret_file: required`,
			`receivers[1].email[0].to[0]: "Bob <b@example.org>" is not a plain email address`, `receivers[1].email[0].lang: "fr" is not one of vi, en`,
			`receivers[1].siren[0].stations[0]: "bad id" is not a station id`, `receivers[1].siren[1]: set stations or alert_station: true`,
			`receivers[2].name: duplicate receiver "x"`}},
		{"timings", base + `
route:
  receivers: [duty]
  group_wait: -1s
  group_interval: 10ms
  repeat_interval: 10s
  matchers: {station: [A]}
  routes: [{matchers: {sensor: [humidity], station: ["a/b"]}}]
`, []string{`route.group_wait: -1s must be between 0 and 24h`, `route.group_interval: 10ms must be between 1s and 24h`,
			`route.repeat_interval: 10s must be between 1m and 168h`, `route.matchers: the root route matches every alert`,
			`route.routes[0].matchers.sensor: "humidity" is not a sensor kind`, `route.routes[0].matchers.station: "a/b" is not a station id`}},
		{"unknown key", base + "route: {receivers: [duty], recievers: [duty]}\n", []string{"field recievers not found"}},
		{"empty", "", []string{"EOF"}},
		{"no root receiver", base + "route: {}\n", []string{"route.receivers: the root route needs at least one receiver"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := route.Parse([]byte(c.yaml))
			if !errors.Is(err, route.ErrInvalid) {
				t.Fatalf("Parse error = %v, want ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaultsAreSeparateFromValidation(t *testing.T) {
	c := route.Config{Receivers: []route.Receiver{{Name: "d", Emails: []route.Email{{To: []string{"a@example.org"}}}}},
		Route: route.RouteConfig{Receivers: []string{"d"}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `receivers[0].email[0].lang: "" is not one of vi, en`) {
		t.Errorf("Validate without defaults = %v, want the empty lang named", err)
	}
	d := route.Defaults(c)
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate(Defaults) = %v", err)
	}
	if c.Receivers[0].Emails[0].Lang != "" {
		t.Error("Defaults modified its argument")
	}
	if *d.Route.GroupWait != route.DefaultGroupWait || *d.Route.GroupInterval != route.DefaultGroupInterval ||
		*d.Route.RepeatInterval != route.DefaultRepeatInterval || !slices.Equal(d.Route.GroupBy, []string{"station", "rule"}) {
		t.Errorf("defaults = %+v", d.Route)
	}
}

func TestMatch(t *testing.T) {
	tree, err := route.Parse([]byte(base + `
route:
  receivers: [duty]
  routes:
    - matchers: {severity: [Extreme]}
      receivers: [sirens]
      continue: true
    - matchers: {district: [D1]}
      receivers: [district]
      routes:
        - {matchers: {sensor: [water_level]}, receivers: [city]}
    - matchers: {district: [D1, D2]}
      receivers: [city]
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels route.Labels
		want   []string
	}{
		{"nothing matches: root", route.Labels{"district": "D9"}, []string{"route"}},
		{"first match stops", route.Labels{"district": "D1", "sensor": "rainfall"}, []string{"route.routes[1]"}},
		{"deepest wins", route.Labels{"district": "D1", "sensor": "water_level"}, []string{"route.routes[1].routes[0]"}},
		{"continue goes on", route.Labels{"district": "D2", "severity": "Extreme"}, []string{"route.routes[0]", "route.routes[2]"}},
		{"continue alone", route.Labels{"severity": "Extreme"}, []string{"route.routes[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range tree.Match(c.labels) {
				got = append(got, r.Path)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
		})
	}
	r := tree.Match(route.Labels{"district": "D1", "sensor": "water_level"})[0]
	if !slices.Equal(r.Receivers, []string{"city"}) || r.GroupWait != route.DefaultGroupWait {
		t.Errorf("inheritance: %+v", r)
	}
	k1 := r.GroupKey(route.Labels{"station": "A", "rule": "r", "district": "D1"})
	k2 := r.GroupKey(route.Labels{"station": "A", "rule": "r", "district": "D1", "severity": "Minor"})
	k3 := r.GroupKey(route.Labels{"station": "B", "rule": "r"})
	if k1 != k2 || k1 == k3 {
		t.Errorf("group keys %q %q %q: want equal for the same station+rule only", k1, k2, k3)
	}
}

func TestWatcherReloadsAndKeepsTreeOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	// Replace the file atomically, as the watcher's contract asks: a
	// 1 ms poll can otherwise read a file that WriteFile just truncated.
	write := func(s string, mod time.Time) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mod, mod); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write(base+"route: {receivers: [duty]}\n", t0)
	got := make(chan error, 10)
	w, err := route.NewWatcher(path, time.Millisecond, nil, func(err error) { got <- err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	write(base+"route: {receivers: [city]}\n", t0.Add(time.Minute))
	if err := wait(t, got); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if r := w.Current().Root().Receivers; !slices.Equal(r, []string{"city"}) {
		t.Fatalf("after reload root receivers = %v", r)
	}
	write(base+"route: {receivers: [nobody]}\n", t0.Add(2*time.Minute))
	if err := wait(t, got); err == nil || !strings.Contains(err.Error(), `route.receivers[0]: unknown receiver "nobody"`) {
		t.Fatalf("bad reload error = %v", err)
	}
	if r := w.Current().Root().Receivers; !slices.Equal(r, []string{"city"}) {
		t.Fatalf("a bad file replaced the tree: root receivers = %v", r)
	}
}

func wait(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("no reload within 30s")
		return nil
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deployments", "config", "routes.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(base + "route: {receivers: [duty], routes: [{matchers: {severity: [Extreme]}, continue: true}]}\n"))
	f.Add([]byte("receivers: [{name: a}]\nroute: {group_wait: 1h}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := route.Parse(b)
		if err != nil {
			if !errors.Is(err, route.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// A valid tree always routes somewhere real.
		for _, r := range tree.Match(route.Labels{}) {
			if len(r.Receivers) == 0 || r.GroupInterval < time.Second {
				t.Fatalf("route %s resolved without receivers or group interval: %+v", r.Path, r)
			}
			for _, n := range r.Receivers {
				if _, ok := tree.Receiver(n); !ok {
					t.Fatalf("route %s names unknown receiver %q", r.Path, n)
				}
			}
		}
	})
}
