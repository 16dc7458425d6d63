package route

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/schemas"
)

// Label names an alert can be matched and grouped on.
const (
	LabelDistrict = "district"
	LabelBasin    = "basin"
	LabelStation  = "station"
	LabelSensor   = "sensor"
	LabelRule     = "rule"
	LabelSeverity = "severity"
)

// LabelNames returns the labels that matchers and group_by may name, in
// the order errors list them.
func LabelNames() []string {
	return []string{LabelDistrict, LabelBasin, LabelStation, LabelSensor, LabelRule, LabelSeverity}
}

func severities() []string {
	return []string{string(schemas.SeverityMinor), string(schemas.SeverityModerate),
		string(schemas.SeveritySevere), string(schemas.SeverityExtreme)}
}

// Languages of email receivers.
const (
	LangVietnamese = "vi"
	LangEnglish    = "en"
)

// Defaults of the root route (children inherit from their parent).
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

// defaultGroupBy groups one incident: one alert of one rule at one station.
func defaultGroupBy() []string { return []string{LabelStation, LabelRule} }

// MaxFileBytes bounds a routing file.
const MaxFileBytes = 1 << 20

// ErrInvalid is wrapped by every error Parse returns for a file that does
// not validate (errors.Is(err, ErrInvalid)); the joined messages name each
// bad key.
var ErrInvalid = errors.New("invalid routing configuration")

// Config is the routing file as written.
type Config struct {
	Receivers []Receiver  `yaml:"receivers"`
	Route     RouteConfig `yaml:"route"`
}

// Receiver is a team and its channels.
type Receiver struct {
	Name     string    `yaml:"name"`
	Webhooks []Webhook `yaml:"webhook,omitempty"`
	Emails   []Email   `yaml:"email,omitempty"`
	Sirens   []Siren   `yaml:"siren,omitempty"`
}

// Webhook posts signed JSON to URL; the HMAC secret is read from SecretFile.
type Webhook struct {
	URL        string `yaml:"url"`
	SecretFile string `yaml:"secret_file"`
}

// Email sends mail to To in Lang (vi or en; default vi).
type Email struct {
	To   []string `yaml:"to"`
	Lang string   `yaml:"lang,omitempty"`
}

// Siren commands the sirens and displays of Stations, or of the alert's own
// station when AlertStation is set.
type Siren struct {
	Stations     []string `yaml:"stations,omitempty"`
	AlertStation bool     `yaml:"alert_station,omitempty"`
}

// Tier is one escalation step: its receivers are notified After the group's
// first notification while the alert is firing and unacknowledged.
type Tier struct {
	Receivers []string      `yaml:"receivers"`
	After     time.Duration `yaml:"after"`
}

// RouteConfig is one node of the route tree as written. A nil pointer or
// empty slice means "inherit from the parent".
type RouteConfig struct {
	Matchers       map[string][]string `yaml:"matchers,omitempty"`
	Receivers      []string            `yaml:"receivers,omitempty"`
	Continue       bool                `yaml:"continue,omitempty"`
	GroupBy        []string            `yaml:"group_by,omitempty"`
	GroupWait      *time.Duration      `yaml:"group_wait,omitempty"`
	GroupInterval  *time.Duration      `yaml:"group_interval,omitempty"`
	RepeatInterval *time.Duration      `yaml:"repeat_interval,omitempty"`
	Escalation     []Tier              `yaml:"escalation,omitempty"`
	Routes         []RouteConfig       `yaml:"routes,omitempty"`
}

// Load reads and parses a routing file.
func Load(path string) (*Tree, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("routing file %s: %w", path, err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("routing file %s: %w", path, err)
	}
	return t, nil
}

// Parse decodes a routing file strictly (unknown keys are errors), applies
// Defaults and validates it.
func Parse(b []byte) (*Tree, error) {
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%w: file is %d bytes, over %d", ErrInvalid, len(b), MaxFileBytes)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c = Defaults(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return build(c), nil
}

// Defaults returns c with the root route's unset settings filled in
// (group_by station+rule, group_wait 30s, group_interval 5m,
// repeat_interval 4h) and email languages defaulted to vi. Children are
// not touched: they inherit when the tree is built.
func Defaults(c Config) Config {
	r := &c.Route
	if len(r.GroupBy) == 0 {
		r.GroupBy = defaultGroupBy()
	}
	if r.GroupWait == nil {
		d := DefaultGroupWait
		r.GroupWait = &d
	}
	if r.GroupInterval == nil {
		d := DefaultGroupInterval
		r.GroupInterval = &d
	}
	if r.RepeatInterval == nil {
		d := DefaultRepeatInterval
		r.RepeatInterval = &d
	}
	c.Receivers = slices.Clone(c.Receivers)
	for i := range c.Receivers {
		c.Receivers[i].Emails = slices.Clone(c.Receivers[i].Emails)
		for j := range c.Receivers[i].Emails {
			if c.Receivers[i].Emails[j].Lang == "" {
				c.Receivers[i].Emails[j].Lang = LangVietnamese
			}
		}
	}
	return c
}

// Validate reports every problem of a defaulted Config, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	names := map[string]bool{}
	if len(c.Receivers) == 0 {
		bad("receivers", "at least one receiver is required")
	}
	for i, r := range c.Receivers {
		key := fmt.Sprintf("receivers[%d]", i)
		switch {
		case !schemas.ValidStationID(r.Name):
			bad(key+".name", "%q must match [A-Za-z0-9_-]{1,64}", r.Name)
		case names[r.Name]:
			bad(key+".name", "duplicate receiver %q", r.Name)
		}
		names[r.Name] = true
		if len(r.Webhooks)+len(r.Emails)+len(r.Sirens) == 0 {
			bad(key, "receiver %q has no channel (webhook, email or siren)", r.Name)
		}
		for j, w := range r.Webhooks {
			k := fmt.Sprintf("%s.webhook[%d]", key, j)
			if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(k+".url", "%q is not an absolute http(s) URL", w.URL)
			}
			if w.SecretFile == "" {
				bad(k+".secret_file", "required (the HMAC-SHA256 key the receiver verifies)")
			}
		}
		for j, e := range r.Emails {
			k := fmt.Sprintf("%s.email[%d]", key, j)
			if len(e.To) == 0 {
				bad(k+".to", "at least one address is required")
			}
			for n, to := range e.To {
				if a, err := mail.ParseAddress(to); err != nil || a.Name != "" {
					bad(fmt.Sprintf("%s.to[%d]", k, n), "%q is not a plain email address", to)
				}
			}
			if e.Lang != LangVietnamese && e.Lang != LangEnglish {
				bad(k+".lang", "%q is not one of vi, en", e.Lang)
			}
		}
		for j, s := range r.Sirens {
			k := fmt.Sprintf("%s.siren[%d]", key, j)
			if len(s.Stations) == 0 && !s.AlertStation {
				bad(k, "set stations or alert_station: true")
			}
			for n, id := range s.Stations {
				if !schemas.ValidStationID(id) {
					bad(fmt.Sprintf("%s.stations[%d]", k, n), "%q is not a station id", id)
				}
			}
		}
	}
	if len(c.Route.Receivers) == 0 {
		bad("route.receivers", "the root route needs at least one receiver")
	}
	validateRoute("route", c.Route, names, true, &errs)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

func validateRoute(key string, r RouteConfig, receivers map[string]bool, root bool, errs *[]error) {
	bad := func(k, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: %s", k, fmt.Sprintf(format, args...)))
	}
	labelNames, severities := LabelNames(), severities()
	if root && len(r.Matchers) > 0 {
		bad(key+".matchers", "the root route matches every alert and takes no matchers")
	}
	for _, l := range sortedKeys(r.Matchers) {
		k := key + ".matchers." + l
		vals := r.Matchers[l]
		if !slices.Contains(labelNames, l) {
			bad(key+".matchers", "%q is not one of %s", l, strings.Join(labelNames, ", "))
			continue
		}
		if len(vals) == 0 {
			bad(k, "at least one value is required")
		}
		for _, v := range vals {
			switch l {
			case LabelSeverity:
				if !slices.Contains(severities, v) {
					bad(k, "%q is not one of %s", v, strings.Join(severities, ", "))
				}
			case LabelSensor:
				if _, ok := schemas.Specs[schemas.Sensor(v)]; !ok {
					bad(k, "%q is not a sensor kind", v)
				}
			case LabelStation:
				if !schemas.ValidStationID(v) {
					bad(k, "%q is not a station id", v)
				}
			default:
				if v == "" {
					bad(k, "empty value")
				}
			}
		}
	}
	for i, n := range r.Receivers {
		if !receivers[n] {
			bad(fmt.Sprintf("%s.receivers[%d]", key, i), "unknown receiver %q", n)
		}
	}
	for i, l := range r.GroupBy {
		if !slices.Contains(labelNames, l) {
			bad(fmt.Sprintf("%s.group_by[%d]", key, i), "%q is not one of %s", l, strings.Join(labelNames, ", "))
		}
	}
	if r.GroupWait != nil && (*r.GroupWait < 0 || *r.GroupWait > 24*time.Hour) {
		bad(key+".group_wait", "%s must be between 0 and 24h", *r.GroupWait)
	}
	if r.GroupInterval != nil && (*r.GroupInterval < time.Second || *r.GroupInterval > 24*time.Hour) {
		bad(key+".group_interval", "%s must be between 1s and 24h", *r.GroupInterval)
	}
	if r.RepeatInterval != nil && (*r.RepeatInterval < time.Minute || *r.RepeatInterval > 7*24*time.Hour) {
		bad(key+".repeat_interval", "%s must be between 1m and 168h", *r.RepeatInterval)
	}
	var prev time.Duration
	for i, t := range r.Escalation {
		k := fmt.Sprintf("%s.escalation[%d]", key, i)
		if t.After <= prev {
			bad(k+".after", "%s must be positive and later than the previous tier (%s)", t.After, prev)
		}
		prev = t.After
		if len(t.Receivers) == 0 {
			bad(k+".receivers", "at least one receiver is required")
		}
		for j, n := range t.Receivers {
			if !receivers[n] {
				bad(fmt.Sprintf("%s.receivers[%d]", k, j), "unknown receiver %q", n)
			}
		}
	}
	for i, c := range r.Routes {
		validateRoute(fmt.Sprintf("%s.routes[%d]", key, i), c, receivers, false, errs)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
