package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/internal/retry"
)

// Message is an MQTT message the collector must acknowledge once handled.
type Message interface {
	Topic() string
	Payload() []byte
	Ack()
}

// Client is the part of an MQTT client the collector uses. Handle is called
// for one message at a time, in arrival order (so per-station order holds),
// and may block briefly for backpressure; the client must not acknowledge a
// message itself.
type Client interface {
	// Connect connects and subscribes filters at QoS 1, delivering every
	// message to handle. It returns once the first connection is up; the
	// subscription may still be pending (see Status).
	Connect(ctx context.Context, filters []string, handle func(Message)) error
	// Status is nil while the connection is up and the broker granted every
	// subscription, else why not (connecting, connection lost, subscription
	// refused: then it is being retried).
	Status() error
	// Disconnect closes the connection; unacknowledged messages stay with
	// the broker (persistent session).
	Disconnect()
}

// ClientFactory builds a Client; tests swap it for a fake.
type ClientFactory func(cfg Config, logger *slog.Logger) (Client, error)

// NewPahoClient is the production ClientFactory, on eclipse/paho.mqtt.golang.
func NewPahoClient(cfg Config, logger *slog.Logger) (Client, error) {
	pw, err := cfg.password()
	if err != nil {
		return nil, err
	}
	return &pahoClient{cfg: cfg, password: pw, logger: logger, status: errNotConnected,
		subscribe: make(chan uint64, 1), stop: make(chan struct{})}, nil
}

var errNotConnected = errors.New("mqtt: not connected yet")

// subscribeTimeout bounds the wait for one SUBACK.
const subscribeTimeout = 30 * time.Second

type pahoClient struct {
	cfg      Config
	password string
	logger   *slog.Logger
	c        mqtt.Client
	// store replaces paho's memory store (tests); nil: paho's default.
	store mqtt.Store

	// subscribe carries the generation of each new connection to the
	// subscriber goroutine; stop ends it.
	subscribe chan uint64
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup

	mu     sync.Mutex
	gen    uint64 // bumped on every connect and connection loss
	status error
}

func (p *pahoClient) Status() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// setStatus records err as the status if the connection is still
// generation gen; it reports whether it did.
func (p *pahoClient) setStatus(gen uint64, err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen {
		return false
	}
	p.status = err
	return true
}

// transition starts a new generation with status err and returns it.
func (p *pahoClient) transition(err error) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.status = err
	return p.gen
}

func (p *pahoClient) Connect(ctx context.Context, filters []string, handle func(Message)) error {
	o := mqtt.NewClientOptions().
		AddBroker(p.cfg.URL).
		SetClientID(p.cfg.ClientID).
		SetCleanSession(false). // persistent session: the broker queues while we are away
		SetAutoAckDisabled(true).
		// Handlers run one at a time in arrival order, so a station's
		// readings keep their order into Kafka. The handler only waits when
		// MaxUndelivered messages are unacknowledged; keep the broker's
		// per-client in-flight window (Mosquitto max_inflight_messages) at
		// or below it and it never waits long enough to stall keepalive.
		SetOrderMatters(true).
		SetKeepAlive(p.cfg.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		// We subscribe on every connection ourselves (the on-connect
		// handler). paho's ResumeSubs would store that SUBSCRIBE and its
		// resume, which runs alongside the on-connect handler, would send
		// it again under the same packet id, completing our token without
		// a result ("no result in the SUBACK", a retry; chaos F14).
		SetResumeSubs(false).
		SetMessageChannelDepth(uint(p.cfg.MaxUndelivered))
	if p.cfg.Username != "" {
		o.SetUsername(p.cfg.Username)
		o.SetPassword(p.password)
	}
	if p.store != nil {
		o.SetStore(p.store)
	}
	if p.cfg.TLS {
		o.SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	if batchable(p.cfg.URL) {
		o.SetCustomOpenConnectionFn(openBatchConn) // acks of a batch in one write (batchconn.go)
	}
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { handle(m) })
	// The handlers only record the transition: subscribing waits for a
	// SUBACK, so it runs on the subscriber goroutine, never on paho's.
	o.SetOnConnectHandler(func(mqtt.Client) {
		gen := p.transition(errors.New("mqtt: connected, subscribing"))
		select {
		case <-p.subscribe: // an older connection's request, superseded
		default:
		}
		p.subscribe <- gen
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		p.transition(fmt.Errorf("mqtt: connection to %s lost (reconnecting): %w", p.cfg.URL, err))
		p.logger.Warn("mqtt connection lost; reconnecting", "broker", p.cfg.URL, "err", err)
	})
	p.c = mqtt.NewClient(o)
	p.wg.Add(1)
	go p.subscriber(filters)
	t := p.c.Connect()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			p.Disconnect()
			return fmt.Errorf("mqtt connect %s: %w", p.cfg.URL, err)
		}
		return nil
	case <-ctx.Done():
		p.Disconnect()
		return ctx.Err()
	}
}

// subscriber subscribes on every new connection and retries, with
// backoff, while the broker refuses or does not answer; the status is ready
// only once every filter is granted on the current connection.
func (p *pahoClient) subscriber(filters []string) {
	defer p.wg.Done()
	var gen uint64
	for {
		select {
		case <-p.stop:
			return
		case gen = <-p.subscribe:
		}
	retrying:
		for attempt := 1; ; attempt++ {
			err := p.subscribeOnce(filters)
			if err == nil {
				if p.setStatus(gen, nil) {
					p.logger.Info("mqtt subscribed", "broker", p.cfg.URL, "client_id", p.cfg.ClientID, "filters", filters)
				}
				break
			}
			err = fmt.Errorf("%w (attempt %d)", err, attempt)
			if !p.setStatus(gen, err) {
				break // the connection changed meanwhile; a new request follows
			}
			wait := retry.Backoff(attempt, time.Second, 30*time.Second)
			p.logger.Error("mqtt subscribe failed; not ready, retrying", "broker", p.cfg.URL, "filters", filters, "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-p.stop:
				t.Stop()
				return
			case gen = <-p.subscribe:
				t.Stop()
				break retrying // a new connection: subscribe afresh
			case <-t.C:
			}
		}
	}
}

// subscribeOnce subscribes filters at QoS 1 and checks the SUBACK: a
// refused filter (0x80, which paho reports only in the token's Result, not
// in Error) or one granted below QoS 1 is an error.
func (p *pahoClient) subscribeOnce(filters []string) error {
	subs := make(map[string]byte, len(filters))
	for _, f := range filters {
		subs[f] = 1
	}
	// A nil callback routes to the default handler, which also receives
	// messages the broker replays from the session before we resubscribe.
	t := p.c.SubscribeMultiple(subs, nil)
	if !t.WaitTimeout(subscribeTimeout) {
		return fmt.Errorf("mqtt subscribe %v on %s: no SUBACK within %s", filters, p.cfg.URL, subscribeTimeout)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("mqtt subscribe %v on %s: %w", filters, p.cfg.URL, err)
	}
	st, ok := t.(*mqtt.SubscribeToken)
	if !ok {
		return fmt.Errorf("mqtt subscribe %v on %s: unexpected token %T", filters, p.cfg.URL, t)
	}
	return checkGranted(filters, st.Result(), p.cfg.URL)
}

// checkGranted checks a SUBACK's result: every filter granted QoS 1 or 2.
func checkGranted(filters []string, granted map[string]byte, broker string) error {
	var errs []error
	for _, f := range filters {
		switch code, ok := granted[f]; {
		case !ok:
			errs = append(errs, fmt.Errorf("mqtt subscribe %s on %s: no result in the SUBACK", f, broker))
		case code >= 0x80:
			errs = append(errs, fmt.Errorf("mqtt subscribe %s on %s: refused by the broker (SUBACK 0x%02x)", f, broker, code))
		case code < 1:
			errs = append(errs, fmt.Errorf("mqtt subscribe %s on %s: granted QoS %d, need 1 (acks after Kafka)", f, broker, code))
		}
	}
	return errors.Join(errs...)
}

func (p *pahoClient) Disconnect() {
	p.stopOnce.Do(func() {
		close(p.stop)
		if p.c != nil {
			p.c.Disconnect(250) // also completes a pending SUBACK wait
		}
		p.wg.Wait()
		p.transition(errors.New("mqtt: disconnected"))
	})
}
