package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is one scrape of /metrics: metric name -> label set -> value.
type Metrics map[string]map[string]float64

// Sum adds every series of name, skipping label sets that contain any of
// except (e.g. `outcome="unknown_station"`).
func (m Metrics) Sum(name string, except ...string) float64 {
	var s float64
next:
	for labels, v := range m[name] {
		for _, e := range except {
			if strings.Contains(labels, e) {
				continue next
			}
		}
		s += v
	}
	return s
}

// Get is one series' value (labels as in the exposition, e.g.
// `outcome="ok"`; empty for none).
func (m Metrics) Get(name, labels string) float64 { return m[name][labels] }

// ParseMetrics reads the Prometheus text format with a line scan: enough
// for counters and gauges (histograms' series are kept under their own
// names, e.g. x_bucket).
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// series value [timestamp]; label values may hold spaces, so the
		// series ends at the last '}' when there are labels.
		end := strings.IndexByte(line, ' ')
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			end = i + 1
		}
		if end < 0 || end >= len(line) {
			continue
		}
		rest := strings.Fields(line[end:])
		if len(rest) == 0 {
			continue
		}
		series := line[:end]
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			continue
		}
		name, labels := series, ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name, labels = series[:i], strings.TrimSuffix(series[i+1:], "}")
		}
		if m[name] == nil {
			m[name] = map[string]float64{}
		}
		m[name][labels] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("harness: metrics: %w", err)
	}
	return m, nil
}

// Scrape fetches and parses http://addr/metrics.
func Scrape(ctx context.Context, addr string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("harness: scrape %s: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("harness: scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("harness: scrape %s: %s", addr, resp.Status)
	}
	return ParseMetrics(resp.Body)
}
