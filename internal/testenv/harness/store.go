package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/resilience-project/resilience/schemas"
)

// StoreAlert is one alert as the alerts service's /api/v1/alerts lists it.
type StoreAlert struct {
	ID      string  `json:"id"`
	Station string  `json:"station"`
	Rule    string  `json:"rule"`
	State   string  `json:"state"`
	Events  int     `json:"events"`
	Level   int     `json:"level"`
	Value   float64 `json:"value"`
}

// AlertsAPI fetches every alert of http://addr/api/v1/alerts (with
// APIToken, page after page).
func AlertsAPI(ctx context.Context, addr string) ([]StoreAlert, error) {
	var all []StoreAlert
	for cursor := ""; ; {
		page, next, err := alertsPage(ctx, addr, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

func alertsPage(ctx context.Context, addr, cursor string) ([]StoreAlert, string, error) {
	u := "http://" + addr + "/api/v1/alerts?limit=500"
	if cursor != "" {
		u += "&cursor=" + url.QueryEscape(cursor)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	Authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("harness: alerts API %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, "", fmt.Errorf("harness: alerts API %s: %s %s", addr, resp.Status, b)
	}
	var body struct {
		Alerts []StoreAlert `json:"alerts"`
		Next   string       `json:"next_cursor"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, "", fmt.Errorf("harness: alerts API %s: %w", addr, err)
	}
	return body.Alerts, body.Next, nil
}

// CheckStore compares the alerts service's store with the expected events:
// every expected alert is there once, with as many events as expected
// (each event applied exactly once) and the state of its latest event; no
// other alert of the scenario's stations is there. It returns the number
// of mismatches and records them in v.
func (s *Scenario) CheckStore(v *Verdict, expected map[string]schemas.AlertEvent, got []StoreAlert) int {
	type want struct {
		events   int
		rule     string
		resolved bool // resolved is final in the store
	}
	wants := map[string]*want{}
	for _, ev := range expected {
		w := wants[ev.ID]
		if w == nil {
			w = &want{rule: ev.Rule}
			wants[ev.ID] = w
		}
		w.events++
		w.resolved = w.resolved || ev.Kind == schemas.AlertResolved
	}
	mine := map[string]bool{}
	for _, st := range s.Stations {
		mine[st] = true
	}
	bad := 0
	seen := map[string]bool{}
	for _, a := range got {
		if !mine[a.Station] {
			continue
		}
		seen[a.ID] = true
		w := wants[a.ID]
		if w == nil {
			bad++
			v.problem("alerts store: unexpected alert %s (%s %s)", a.ID, a.Rule, a.State)
			continue
		}
		state := "firing"
		if w.resolved {
			state = "resolved"
		}
		if a.Events != w.events || a.State != state {
			bad++
			v.problem("alerts store: %s (%s) has %d events, state %s; want %d, %s", a.ID, a.Rule, a.Events, a.State, w.events, state)
		}
	}
	for id, w := range wants {
		if !seen[id] {
			bad++
			v.problem("alerts store: alert %s (%s) missing", id, w.rule)
		}
	}
	v.StoreMismatches = bad
	return bad
}
