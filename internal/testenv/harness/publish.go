package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/schemas"
)

// Message is one message for Publish: a v1 water_level reading, or, with
// Payload set, a raw message.
type Message struct {
	Station string
	Seq     uint64
	// TS is the reading's timestamp; zero: the publish time.
	TS    time.Time
	Level float64
	// Topic defaults to the station's readings topic.
	Topic string
	// Payload, when set, is sent as it is (Seq, TS and Level unused).
	Payload []byte
}

// PublishConfig configures Publish.
type PublishConfig struct {
	URL string
	// ClientID prefixes the connections' client ids: <ClientID>-pub-<c>.
	ClientID string
	// Clients is the number of connections (default 1).
	Clients int
	// Inflight bounds each connection's unacknowledged messages (default 100).
	Inflight int
	// Rate paces all connections together (messages/s); 0: as fast as the
	// acknowledgements allow.
	Rate float64
	// Client maps a station to its connection (default: an FNV hash of
	// the id), so that a station's messages keep their order, as from a
	// device.
	Client func(station string, clients int) int
}

// PublishResult is what Publish did.
type PublishResult struct {
	Sent    int // Publish calls
	Acked   int // PUBACKs
	Errors  int // publishes without a PUBACK (an error, or none within a minute)
	First   time.Time
	Last    time.Time
	LastAck time.Time
	// At is the publish time of each message (zero: not sent).
	At       []time.Time
	FirstErr error
}

// ErrConnect is returned by Publish when a connection cannot be made.
var ErrConnect = errors.New("harness: publisher cannot connect")

// HashClient is the default PublishConfig.Client.
func HashClient(station string, clients int) int {
	h := fnv.New32a()
	h.Write([]byte(station))
	return int(h.Sum32() % uint32(clients))
}

// Publish sends msgs at QoS 1 from cfg.Clients connections, each message on
// its station's connection in the order of msgs, and waits for every
// PUBACK. It stops early when ctx ends (returning ctx's error with what it
// did).
func Publish(ctx context.Context, cfg PublishConfig, msgs []Message) (PublishResult, error) {
	cfg.Clients = max(1, cfg.Clients)
	if cfg.Inflight <= 0 {
		cfg.Inflight = 100
	}
	if cfg.Client == nil {
		cfg.Client = HashClient
	}
	res := PublishResult{At: make([]time.Time, len(msgs))}
	own := make([][]int, cfg.Clients) // message indexes per connection
	for i, m := range msgs {
		c := cfg.Client(m.Station, cfg.Clients)
		own[c] = append(own[c], i)
	}
	pubs := make([]*publisher, 0, cfg.Clients)
	defer func() {
		for _, p := range pubs {
			p.cl.Disconnect(250)
		}
	}()
	for c, idx := range own {
		if len(idx) == 0 {
			continue
		}
		o := mqtt.NewClientOptions().AddBroker(cfg.URL).SetClientID(fmt.Sprintf("%s-pub-%d", cfg.ClientID, c)).
			SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(10 * time.Second)
		cl := mqtt.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			return res, fmt.Errorf("%w: %d to %s: %v", ErrConnect, c, cfg.URL, tok.Error())
		}
		pubs = append(pubs, &publisher{cl: cl, idx: idx})
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, start, cfg.Rate/float64(len(pubs)), cfg.Inflight, msgs, res.At)
		}()
	}
	wg.Wait()
	for _, p := range pubs {
		res.Sent += p.sent
		res.Acked += int(p.acked.Load())
		res.Errors += int(p.errs.Load())
		if la := p.lastAck.Load(); la != 0 && time.Unix(0, la).After(res.LastAck) {
			res.LastAck = time.Unix(0, la)
		}
		if e := p.firstErr.Load(); e != nil && res.FirstErr == nil {
			res.FirstErr = *e
		}
	}
	for _, at := range res.At {
		if at.IsZero() {
			continue
		}
		if res.First.IsZero() || at.Before(res.First) {
			res.First = at
		}
		if at.After(res.Last) {
			res.Last = at
		}
	}
	return res, ctx.Err()
}

// publisher is one connection and the messages it owns.
type publisher struct {
	cl       mqtt.Client
	idx      []int
	sent     int // owned by run until it returns
	acked    atomic.Int64
	errs     atomic.Int64
	lastAck  atomic.Int64 // unix nanos
	firstErr atomic.Pointer[error]
}

// run publishes p's messages, paced to rate if positive: before each burst
// it sends every message due by now (so a late wake-up catches up), then
// sleeps until the next one is due. A waiter goroutine collects PUBACKs;
// the token channel's capacity bounds the messages in flight.
func (p *publisher) run(ctx context.Context, start time.Time, rate float64, inflight int, msgs []Message, at []time.Time) {
	tokens := make(chan mqtt.Token, inflight)
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		for tok := range tokens {
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				err := tok.Error()
				if err == nil {
					err = errors.New("no PUBACK within 60s")
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
	for p.sent < len(p.idx) {
		due := len(p.idx)
		if rate > 0 {
			due = min(due, int(rate*time.Since(start).Seconds())+1)
		}
		for ; p.sent < due; p.sent++ {
			if ctx.Err() != nil {
				return
			}
			i := p.idx[p.sent]
			now := time.Now()
			topic, payload := msgs[i].encode(now)
			tok := p.cl.Publish(topic, 1, false, payload)
			at[i] = now
			select {
			case tokens <- tok:
			case <-ctx.Done():
				return
			}
		}
		if rate <= 0 {
			continue
		}
		next := start.Add(time.Duration(float64(p.sent) / rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
	}
}

// encode is the message's topic and payload when published at now.
func (m Message) encode(now time.Time) (string, []byte) {
	topic := m.Topic
	if topic == "" {
		topic = fmt.Sprintf(schemas.TopicReadingsFmt, m.Station)
	}
	if m.Payload != nil {
		return topic, m.Payload
	}
	ts := m.TS
	if ts.IsZero() {
		ts = now
	}
	return topic, PayloadV1(m.Station, m.Seq, ts, m.Level)
}
