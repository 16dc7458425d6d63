package console_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/console"
	"github.com/resilience-project/resilience/schemas"
)

func catalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(console.Assets(), "i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

func placeholders(s string) string {
	p := placeholderRE.FindAllString(s, -1)
	sort.Strings(p)
	return strings.Join(p, ",")
}

// TestCatalogsMatch: every key of one catalog is in the other, no value is
// empty, and both spell the same {placeholders}.
func TestCatalogsMatch(t *testing.T) {
	vi, en := catalog(t, "vi"), catalog(t, "en")
	for _, tc := range []struct {
		name     string
		one, two map[string]string
	}{{"vi→en", vi, en}, {"en→vi", en, vi}} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.one {
				w, ok := tc.two[k]
				if !ok {
					t.Errorf("key %q missing", k)
					continue
				}
				if strings.TrimSpace(v) == "" || strings.TrimSpace(w) == "" {
					t.Errorf("key %q: empty text", k)
				}
				if placeholders(v) != placeholders(w) {
					t.Errorf("key %q: placeholders %q vs %q", k, placeholders(v), placeholders(w))
				}
			}
		})
	}
}

// usedKeys are the keys the page uses: data-i18n* attributes of
// index.html, t("…") and flash("…") literals of app.js, and the families app.js builds
// from API values (severity, state, history kinds, roles, trends, sensors).
func usedKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	html, err := fs.ReadFile(console.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`data-i18n(?:-placeholder|-aria)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		keys = append(keys, m[1])
	}
	js, err := fs.ReadFile(console.Assets(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]bool{"severity.": true, "state.": true, "history.": true, "role.": true, "trend.": true, "sensor.": true}
	// t("key", …) and flash("key", …) (a toast keeps its key, so a
	// language switch translates it).
	for _, m := range regexp.MustCompile(`\b(?:t|flash)\("([a-z_.]+)"`).FindAllStringSubmatch(string(js), -1) {
		if strings.HasSuffix(m[1], ".") { // t("family." + value): the families below
			if !families[m[1]] {
				t.Errorf("app.js builds keys %q+…: add the family's values to this test", m[1])
			}
			continue
		}
		keys = append(keys, m[1])
	}
	for _, m := range regexp.MustCompile(`i18n = on \? "([a-z.]+)" : "([a-z.]+)"`).FindAllStringSubmatch(string(js), -1) {
		keys = append(keys, m[1], m[2])
	}
	for _, s := range []schemas.Severity{schemas.SeverityMinor, schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme} {
		keys = append(keys, "severity."+string(s))
	}
	for _, s := range []string{"firing", "acknowledged", "resolved"} {
		keys = append(keys, "state."+s)
	}
	for _, k := range []schemas.AlertKind{schemas.AlertFired, schemas.AlertEscalated, schemas.AlertDeescalated, schemas.AlertResolved} {
		keys = append(keys, "history."+string(k))
	}
	for _, k := range []schemas.ActionKind{schemas.ActionAck, schemas.ActionUnack, schemas.ActionResolve, schemas.ActionComment, schemas.ActionAssign} {
		keys = append(keys, "history."+string(k))
	}
	for _, r := range []string{"viewer", "operator", "publisher", "admin"} {
		keys = append(keys, "role."+r)
	}
	for _, d := range []string{"rising", "falling", "steady"} {
		keys = append(keys, "trend."+d)
	}
	for s := range schemas.Specs {
		keys = append(keys, "sensor."+string(s))
	}
	if len(keys) < 80 {
		t.Fatalf("only %d keys found: the patterns no longer match the page", len(keys))
	}
	return keys
}

// TestEveryUsedKeyInBothCatalogs: a string the page shows is translated in
// both languages.
func TestEveryUsedKeyInBothCatalogs(t *testing.T) {
	keys := usedKeys(t)
	for _, lang := range []string{"vi", "en"} {
		cat := catalog(t, lang)
		for _, k := range keys {
			if _, ok := cat[k]; !ok {
				t.Errorf("%s.json lacks %q", lang, k)
			}
		}
	}
}

// TestNothingFromElsewhere: no asset names another host (a CDN, a font
// or tile server); the one absolute URL allowed is the SVG namespace
// name, which is never fetched.
func TestNothingFromElsewhere(t *testing.T) {
	urlRE := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(console.Assets(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console.Assets(), path)
		if err != nil {
			return err
		}
		for _, u := range urlRE.FindAllString(string(b), -1) {
			if u != "http://www.w3.org" {
				t.Errorf("%s names %q", path, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHandler serves the page and its files with a strict CSP.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
		ct   string
		body string
	}{
		{"/", 200, "text/html", `<script type="module" src="/console/app.js">`},
		{"/console/app.js", 200, "javascript", "EventSource"},
		{"/console/draw.js", 200, "javascript", "export function"},
		{"/console/style.css", 200, "text/css", ".river"},
		{"/console/i18n/vi.json", 200, "application/json", "Cảnh báo"},
		{"/console/i18n/en.json", 200, "application/json", "Alerts"},
		{"/console/nope.js", 404, "", ""},
		{"/elsewhere", 404, "", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sb strings.Builder
			buf := make([]byte, 1<<16)
			for {
				n, err := resp.Body.Read(buf)
				sb.Write(buf[:n])
				if err != nil {
					break
				}
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Fatalf("CSP %q", csp)
			}
			if tc.code != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.ct) {
				t.Fatalf("Content-Type %q, want %q", ct, tc.ct)
			}
			if !strings.Contains(sb.String(), tc.body) {
				t.Fatalf("body lacks %q", tc.body)
			}
		})
	}
}

// TestPrivilegedPanelsHiddenByDefault: the public warnings and the audit
// log are hidden in the page as served; app.js shows them only to the
// roles that may read them (the browser test checks a viewer's page).
func TestPrivilegedPanelsHiddenByDefault(t *testing.T) {
	html, err := fs.ReadFile(console.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := fs.ReadFile(console.Assets(), "app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, role string }{{"cap-panel", "publisher"}, {"audit-panel", "admin"}} {
		if !strings.Contains(string(html), `<section id="`+tc.id+`" hidden>`) {
			t.Errorf("index.html: #%s is not hidden as served", tc.id)
		}
		if show := `$("` + tc.id + `").hidden = !can("` + tc.role + `");`; !strings.Contains(string(js), show) {
			t.Errorf("app.js lacks %s", show)
		}
	}
}
