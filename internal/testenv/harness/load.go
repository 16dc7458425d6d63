package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/schemas"
)

// Water levels of the load (against the registry's LevelI..LevelIII): in
// each cycle of Pattern.Cycle readings the last Pattern.High are high.
const (
	NormalLevel = 4.80 // below the level I clear point 4.85 m, so alerts resolve
	HighLevel   = 5.60 // above level II; 5.6 - 4.8 < 1 m, not a spike
	variation   = 0.01 // +-2 steps, so 36 identical readings (stuck) never happen
)

// Pattern shapes each station's series. Station i's cycles are shifted by
// i readings so that the stations do not all alert at once.
type Pattern struct {
	Cycle, High int
}

// Level is the water level of reading seq (1-based) of station index i.
func (p Pattern) Level(i int, seq uint64) float64 {
	v := NormalLevel
	if p.IsHigh(i, seq) {
		v = HighLevel
	}
	return v + variation*float64(int(seq*7%5)-2)
}

// IsHigh reports whether reading seq of station index i is high.
func (p Pattern) IsHigh(i int, seq uint64) bool {
	return p.Cycle > 0 && int((seq-1+uint64(i))%uint64(p.Cycle)) >= p.Cycle-p.High
}

// CycleOf is the cycle of reading seq of station index i (0 without a
// cycle). Each cycle with a high reading fires one level alert, normally
// on its first high reading.
func (p Pattern) CycleOf(i int, seq uint64) uint64 {
	if p.Cycle <= 0 {
		return 0
	}
	return (seq - 1 + uint64(i)) / uint64(p.Cycle)
}

// LoadConfig configures the publishers.
type LoadConfig struct {
	// URL of the broker the devices publish to (default: the scenario's).
	URL string
	// Rate is messages per second per station (default 1).
	Rate float64
	// Pattern of the levels (default cycle 20, high 4).
	Pattern Pattern
}

// Special builds one non-routine message with the station's next seq and
// the timestamp it would have had (readingTS: in a later millisecond than
// the station's previous reading).
type Special struct {
	Label string
	// Build returns the topic (empty: the station's readings topic), the
	// payload, the timestamp the reading carries and its fate.
	Build func(station string, seq uint64, ts time.Time) (topic string, payload []byte, readingTS time.Time, fate Fate)
	// NoRetry: publish once, without waiting for a PUBACK (the broker may
	// refuse it and close the connection).
	NoRetry bool
}

// Load is one sequenced QoS 1 publisher per station at a steady rate, as
// devices would: each station generates a reading every 1/rate seconds
// (seq 1, 2, ...; ts the generation time at the millisecond, always in a
// later millisecond than the station's previous reading), buffers what it
// cannot send, and sends its buffer in order, one message in flight,
// resending a message until the broker acknowledged it on a live
// connection.
type Load struct {
	s      *Scenario
	cfg    LoadConfig
	Ledger *Ledger

	rate     atomic.Uint64 // float64 bits, per station
	stopGen  chan struct{}
	genWG    sync.WaitGroup
	sendWG   sync.WaitGroup
	stations []*station
	cancel   context.CancelFunc
}

type station struct {
	id    string
	index int
	mu    sync.Mutex
	queue []*Entry
	kick  chan struct{}
	extra chan Special
	seq   uint64
	done  chan struct{} // generator finished
}

// PayloadV1 is a v1 device message with one water_level reading.
func PayloadV1(station string, seq uint64, ts time.Time, level float64) []byte {
	b, _ := json.Marshal(map[string]any{"v": 1, "station": station, "seq": seq, "ts": ts.UTC().Format(time.RFC3339Nano),
		"readings": []map[string]any{{"sensor": "water_level", "value": level, "unit": "m"}}})
	return b
}

// StartLoad starts the publishers of every station of s.
func (s *Scenario) StartLoad(cfg LoadConfig) *Load {
	if cfg.URL == "" {
		cfg.URL = s.Servers.MQTTURL
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 1
	}
	if cfg.Pattern.Cycle == 0 {
		cfg.Pattern = Pattern{Cycle: 20, High: 4}
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{s: s, cfg: cfg, Ledger: &Ledger{}, stopGen: make(chan struct{}), cancel: cancel}
	l.rate.Store(math.Float64bits(cfg.Rate))
	start := time.Now()
	for i, id := range s.Stations {
		st := &station{id: id, index: i, kick: make(chan struct{}, 1), extra: make(chan Special, 64), done: make(chan struct{})}
		l.stations = append(l.stations, st)
		l.genWG.Add(1)
		go l.generate(st, start)
		l.sendWG.Add(1)
		go l.send(ctx, st)
	}
	return l
}

// SetRate changes the per-station rate (messages per second).
func (l *Load) SetRate(r float64) { l.rate.Store(math.Float64bits(r)) }

// Inject queues a special message on station index i, sent in order with
// its routine readings at the next tick.
func (l *Load) Inject(i int, sp Special) { l.stations[i].extra <- sp }

// generate produces the station's readings on schedule.
func (l *Load) generate(st *station, start time.Time) {
	defer l.genWG.Done()
	defer close(st.done)
	// Stations start staggered across one interval.
	next := start.Add(time.Duration(float64(time.Second) / math.Float64frombits(l.rate.Load()) *
		float64(st.index) / float64(len(l.s.Stations))))
	var last time.Time // the timestamp of the station's previous reading
	for {
		select {
		case <-l.stopGen:
			return
		case <-time.After(time.Until(next)):
		}
		now := time.Now()
		ts := readingTS(now, last)
		last = ts
		var e *Entry
		select {
		case sp := <-st.extra:
			e = l.special(st, sp, ts, now)
		default:
			st.seq++
			lvl := l.cfg.Pattern.Level(st.index, st.seq)
			e = &Entry{Station: st.id, Seq: st.seq, TS: ts, Level: lvl, Topic: fmt.Sprintf(schemas.TopicReadingsFmt, st.id),
				Payload: PayloadV1(st.id, st.seq, ts, lvl), Fate: Fate{Kind: Stored}, Created: now}
		}
		l.Ledger.add(e)
		st.mu.Lock()
		st.queue = append(st.queue, e)
		st.mu.Unlock()
		select {
		case st.kick <- struct{}{}:
		default:
		}
		next = next.Add(time.Duration(float64(time.Second) / math.Float64frombits(l.rate.Load())))
		if behind := time.Since(next); behind > 5*time.Second {
			next = time.Now() // a frozen harness does not burst afterwards
		}
	}
}

// readingTS is the timestamp of a station's reading generated at now after
// one stamped last: now at the millisecond, or one millisecond after last
// if that is not later. The processor stores a reading as one InfluxDB
// point per station, sensor and millisecond (an idempotent replay), so two
// readings of one station within a millisecond would be one point and the
// earlier seq missing; a device's clock does not stamp two readings alike,
// but a generator that fell behind (a stalled harness at 10x rate, chaos
// F14) sends every reading it owes within the same millisecond.
func readingTS(now, last time.Time) time.Time {
	ts := now.Truncate(time.Millisecond)
	if !ts.After(last) {
		ts = last.Add(time.Millisecond)
	}
	return ts
}

// special builds sp's entry; ts is the timestamp a routine reading would
// have had, now the generation time.
func (l *Load) special(st *station, sp Special, ts, now time.Time) *Entry {
	st.seq++
	topic, payload, ts, fate := sp.Build(st.id, st.seq, ts)
	if topic == "" {
		topic = fmt.Sprintf(schemas.TopicReadingsFmt, st.id)
	}
	return &Entry{Station: st.id, Seq: st.seq, TS: ts, Level: math.NaN(), Topic: topic, Payload: payload, Fate: fate,
		Label: sp.Label, Created: now, NoRetry: sp.NoRetry}
}

// send publishes the station's queue in order over its own connection
// (client id = station id, as a device).
func (l *Load) send(ctx context.Context, st *station) {
	defer l.sendWG.Done()
	var cl mqtt.Client
	lost := make(chan struct{}, 1)
	defer func() {
		if cl != nil {
			cl.Disconnect(100)
		}
	}()
	for {
		st.mu.Lock()
		var e *Entry
		if len(st.queue) > 0 {
			e = st.queue[0]
		}
		st.mu.Unlock()
		if e == nil {
			select {
			case <-st.done:
				return // generator stopped and queue empty
			case <-st.kick:
				continue
			case <-ctx.Done():
				return
			}
		}
		if cl == nil || !cl.IsConnectionOpen() {
			if cl != nil {
				cl.Disconnect(0)
			}
			cl = l.connect(ctx, st.id, lost)
			if cl == nil {
				return // ctx done
			}
		}
		l.Ledger.update(e, func(e *Entry) {
			if e.FirstSent.IsZero() {
				e.FirstSent = time.Now()
			}
			e.Attempts++
		})
		tok := cl.Publish(e.Topic, 1, false, e.Payload)
		if e.NoRetry {
			if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				l.Ledger.update(e, func(e *Entry) { e.Acked = time.Now() })
			}
			st.pop()
			continue
		}
		ok := tok.WaitTimeout(30*time.Second) && tok.Error() == nil
		select {
		case <-lost:
			ok = false // the trap: a token may complete across a reconnect without delivery
		default:
		}
		if !ok {
			cl.Disconnect(0)
			cl = nil
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		l.Ledger.update(e, func(e *Entry) { e.Acked = time.Now() })
		st.pop()
	}
}

func (st *station) pop() {
	st.mu.Lock()
	st.queue = st.queue[1:]
	st.mu.Unlock()
}

// connect dials until connected or ctx ends (nil).
func (l *Load) connect(ctx context.Context, id string, lost chan struct{}) mqtt.Client {
	for {
		o := mqtt.NewClientOptions().AddBroker(l.cfg.URL).SetClientID(id).SetCleanSession(true).
			SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
			SetKeepAlive(10 * time.Second).SetPingTimeout(5 * time.Second).
			SetConnectionLostHandler(func(mqtt.Client, error) {
				select {
				case lost <- struct{}{}:
				default:
				}
			})
		cl := mqtt.NewClient(o)
		tok := cl.Connect()
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			select { // a loss signal from an earlier connection is stale
			case <-lost:
			default:
			}
			return cl
		}
		cl.Disconnect(0)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// Stop stops generating and waits until every queued message was
// acknowledged or timeout passed; it returns how many were left unsent.
func (l *Load) Stop(timeout time.Duration) int {
	select {
	case <-l.stopGen:
	default:
		close(l.stopGen)
	}
	l.genWG.Wait()
	done := make(chan struct{})
	go func() { l.sendWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		l.cancel()
		<-done
	}
	l.cancel()
	left := 0
	for _, st := range l.stations {
		st.mu.Lock()
		left += len(st.queue)
		st.mu.Unlock()
	}
	return left
}
