package main

import (
	"context"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
)

// pattern is the shape of the stations' series (harness.Pattern: in each
// cycle of Cycle readings the last High are high, about 5.6 m, above level
// II; the others normal, 4.8 m), by station id. Station i's cycles are
// shifted by i readings, so the stations do not all alert at the same
// moment.
type pattern struct {
	harness.Pattern
	index map[string]int
}

func newPattern(cycle, high int, stations []string) pattern {
	p := pattern{Pattern: harness.Pattern{Cycle: cycle, High: high}, index: make(map[string]int, len(stations))}
	for i, st := range stations {
		p.index[st] = i
	}
	return p
}

// level is the water level of a station's reading seq.
func (p pattern) level(station string, seq uint64) float64 { return p.Level(p.index[station], seq) }

func (p pattern) high(station string, seq uint64) bool { return p.IsHigh(p.index[station], seq) }

// cycle is the cycle of a station's reading seq. Each cycle with a high
// reading fires one level:water_level alert, normally on its first high
// reading; if the readings of a station arrive out of order, on another
// high reading of the same cycle.
func (p pattern) cycle(station string, seq uint64) uint64 { return p.CycleOf(p.index[station], seq) }

// cycleKey names one alert cycle of a station.
type cycleKey struct {
	Station string
	Cycle   uint64
}

// cycles returns the alert cycles of the high readings in high, each
// mapped to false (not yet seen).
func (p pattern) cycles(high map[key]time.Time) map[cycleKey]bool {
	out := map[cycleKey]bool{}
	for k := range high {
		out[cycleKey{k.Station, p.cycle(k.Station, k.Seq)}] = false
	}
	return out
}

// key names one reading.
type key struct {
	Station string
	Seq     uint64
}

// pubConfig is the publishing side of a run.
type pubConfig struct {
	URL      string
	Prefix   string // MQTT client id prefix
	Stations []string
	Rate     float64 // messages/s, all clients together
	Total    int     // messages, all clients together
	Clients  int
	Inflight int // unacknowledged QoS 1 messages per client
	Pattern  pattern
}

// pubResult is what the publishers did.
type pubResult struct {
	harness.PublishResult
	// High holds the publish time of every high reading (one of each
	// cycle's fires an alert).
	High map[key]time.Time
}

// publish publishes cfg.Total readings (ts = publish time) paced to
// cfg.Rate from cfg.Clients connections and waits for every PUBACK.
// Station i belongs to client i mod Clients, so its readings are published
// in order on one connection; the clients share the total evenly.
func publish(ctx context.Context, cfg pubConfig) (pubResult, error) {
	clients := max(1, min(cfg.Clients, len(cfg.Stations)))
	msgs := loadMessages(cfg, clients)
	res, err := harness.Publish(ctx, harness.PublishConfig{URL: cfg.URL, ClientID: cfg.Prefix, Clients: clients,
		Inflight: cfg.Inflight, Rate: cfg.Rate,
		Client: func(station string, _ int) int { return cfg.Pattern.index[station] % clients }}, msgs)
	out := pubResult{PublishResult: res, High: map[key]time.Time{}}
	for i, at := range res.At {
		if m := msgs[i]; !at.IsZero() && cfg.Pattern.high(m.Station, m.Seq) {
			out.High[key{m.Station, m.Seq}] = at
		}
	}
	return out, err
}

// loadMessages is the run's readings: client c publishes Total/clients of
// them (one more for the first Total%clients), cycling through its
// stations with seq 1, 2, ...
func loadMessages(cfg pubConfig, clients int) []harness.Message {
	msgs := make([]harness.Message, 0, cfg.Total)
	for c := 0; c < clients; c++ {
		var own []string
		for i := c; i < len(cfg.Stations); i += clients {
			own = append(own, cfg.Stations[i])
		}
		n := cfg.Total / clients
		if c < cfg.Total%clients {
			n++
		}
		for k := 0; k < n; k++ {
			st, seq := own[k%len(own)], uint64(k/len(own)+1)
			msgs = append(msgs, harness.Message{Station: st, Seq: seq, Level: cfg.Pattern.level(st, seq)})
		}
	}
	return msgs
}
