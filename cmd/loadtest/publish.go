package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/schemas"
)

// Water levels of the simulated stations, against the registry's alarm
// levels I 5.0 m, II 5.5 m (clear margin 0.15 m in the default rules).
const (
	normalLevel = 4.80 // below the level I clear point 4.85 m, so alerts resolve
	highLevel   = 5.60 // above level II; 5.6 - 4.8 < 1 m, not a spike
	variation   = 0.01 // +-2 steps, so 36 identical readings (stuck) never happen
)

// pattern is the shape of the stations' series: in each cycle of Cycle
// readings the last High are high, the others normal. Station i's cycles
// are shifted by i mod Cycle readings, so the stations do not all alert at
// the same moment.
type pattern struct {
	Cycle, High int
	offset      map[string]uint64
}

func newPattern(cycle, high int, stations []string) pattern {
	p := pattern{Cycle: cycle, High: high, offset: make(map[string]uint64, len(stations))}
	for i, st := range stations {
		p.offset[st] = uint64(i % cycle)
	}
	return p
}

// pos is the 0-based position of a station's reading seq (1-based) in
// its shifted series.
func (p pattern) pos(station string, seq uint64) uint64 { return seq - 1 + p.offset[station] }

// level is the water level of a station's reading seq.
func (p pattern) level(station string, seq uint64) float64 {
	v := normalLevel
	if p.high(station, seq) {
		v = highLevel
	}
	return v + variation*float64(int(seq*7%5)-2)
}

func (p pattern) high(station string, seq uint64) bool {
	return int(p.pos(station, seq)%uint64(p.Cycle)) >= p.Cycle-p.High
}

// cycle is the cycle of a station's reading seq. Each cycle with a high
// reading fires one level:water_level alert, normally on its first high
// reading; if the readings of a station arrive out of order, on another
// high reading of the same cycle.
func (p pattern) cycle(station string, seq uint64) uint64 {
	return p.pos(station, seq) / uint64(p.Cycle)
}

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

// reading is the v1 device message.
type reading struct {
	V        int       `json:"v"`
	Station  string    `json:"station"`
	Seq      uint64    `json:"seq"`
	TS       time.Time `json:"ts"`
	Readings []struct {
		Sensor string  `json:"sensor"`
		Value  float64 `json:"value"`
		Unit   string  `json:"unit"`
	} `json:"readings"`
}

func payload(station string, seq uint64, ts time.Time, level float64) []byte {
	r := reading{V: 1, Station: station, Seq: seq, TS: ts.UTC()}
	r.Readings = append(r.Readings, struct {
		Sensor string  `json:"sensor"`
		Value  float64 `json:"value"`
		Unit   string  `json:"unit"`
	}{string(schemas.WaterLevel), level, "m"})
	b, _ := json.Marshal(r)
	return b
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
	Sent    int // Publish calls
	Acked   int // PUBACKs
	Errors  int
	First   time.Time // first Publish call
	Last    time.Time // last Publish call
	LastAck time.Time
	// High holds the publish time of every high reading (one of each
	// cycle's fires an alert).
	High     map[key]time.Time
	FirstErr error
}

// publisher is one MQTT connection and the stations it owns.
type publisher struct {
	cl       mqtt.Client
	stations []string
	n        int
	rate     float64
	// results, owned by the publisher's goroutine until it returns
	sent     int
	first    time.Time
	last     time.Time
	high     map[key]time.Time
	acked    atomic.Int64
	errs     atomic.Int64
	lastAck  atomic.Int64 // unix nanos
	firstErr atomic.Pointer[error]
}

// publish connects cfg.Clients publishers, then publishes cfg.Total
// messages paced to cfg.Rate from time start on, and waits for every
// PUBACK. Station i belongs to client i mod Clients, so its readings are
// published in order on one connection.
func publish(ctx context.Context, cfg pubConfig) (pubResult, error) {
	clients := max(1, min(cfg.Clients, len(cfg.Stations)))
	pubs := make([]*publisher, clients)
	for c := range pubs {
		p := &publisher{high: map[key]time.Time{}, rate: cfg.Rate / float64(clients)}
		for i := c; i < len(cfg.Stations); i += clients {
			p.stations = append(p.stations, cfg.Stations[i])
		}
		p.n = cfg.Total / clients
		if c < cfg.Total%clients {
			p.n++
		}
		o := mqtt.NewClientOptions().AddBroker(cfg.URL).SetClientID(fmt.Sprintf("%s-pub-%d", cfg.Prefix, c)).
			SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(10 * time.Second)
		p.cl = mqtt.NewClient(o)
		if tok := p.cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			for _, q := range pubs[:c] {
				q.cl.Disconnect(100)
			}
			return pubResult{}, fmt.Errorf("publisher %d: connect %s: %v", c, cfg.URL, tok.Error())
		}
		pubs[c] = p
	}
	defer func() {
		for _, p := range pubs {
			p.cl.Disconnect(250)
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, start, cfg)
		}()
	}
	wg.Wait()

	res := pubResult{High: map[key]time.Time{}}
	for _, p := range pubs {
		res.Sent += p.sent
		res.Acked += int(p.acked.Load())
		res.Errors += int(p.errs.Load())
		if !p.first.IsZero() && (res.First.IsZero() || p.first.Before(res.First)) {
			res.First = p.first
		}
		if p.last.After(res.Last) {
			res.Last = p.last
		}
		if la := time.Unix(0, p.lastAck.Load()); p.lastAck.Load() != 0 && la.After(res.LastAck) {
			res.LastAck = la
		}
		if e := p.firstErr.Load(); e != nil && res.FirstErr == nil {
			res.FirstErr = *e
		}
		for k, t := range p.high {
			res.High[k] = t
		}
	}
	return res, ctx.Err()
}

// run publishes p.n messages paced to p.rate: before each burst it sends
// every message due by now (so a late wake-up catches up), then sleeps
// until the next one is due. A waiter goroutine collects PUBACKs; the
// token channel's capacity bounds the messages in flight.
func (p *publisher) run(ctx context.Context, start time.Time, cfg pubConfig) {
	tokens := make(chan mqtt.Token, max(1, cfg.Inflight))
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		for tok := range tokens {
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				err := tok.Error()
				if err == nil {
					err = fmt.Errorf("no PUBACK within 60s")
				}
				p.errs.Add(1)
				p.firstErr.CompareAndSwap(nil, &err)
				continue
			}
			p.acked.Add(1)
			p.lastAck.Store(time.Now().UnixNano())
		}
	}()
	defer func() { close(tokens); <-waiterDone }()

	ns := len(p.stations)
	for p.sent < p.n {
		due := min(p.n, int(p.rate*time.Since(start).Seconds())+1)
		for ; p.sent < due; p.sent++ {
			if ctx.Err() != nil {
				return
			}
			st, seq := p.stations[p.sent%ns], uint64(p.sent/ns+1)
			now := time.Now()
			if p.first.IsZero() {
				p.first = now
			}
			tok := p.cl.Publish(fmt.Sprintf(schemas.TopicReadingsFmt, st), 1, false, payload(st, seq, now, cfg.Pattern.level(st, seq)))
			p.last = now
			if cfg.Pattern.high(st, seq) {
				p.high[key{st, seq}] = now
			}
			select {
			case tokens <- tok:
			case <-ctx.Done():
				return
			}
		}
		next := start.Add(time.Duration(float64(p.sent) / p.rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
	}
}
