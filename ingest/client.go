package ingest

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
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
	// message to handle. It returns once the first connection is up.
	Connect(ctx context.Context, filters []string, handle func(Message)) error
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
	return &pahoClient{cfg: cfg, password: pw, logger: logger}, nil
}

type pahoClient struct {
	cfg      Config
	password string
	logger   *slog.Logger
	c        mqtt.Client
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
		SetResumeSubs(true).
		SetMessageChannelDepth(uint(p.cfg.MaxUndelivered))
	if p.cfg.Username != "" {
		o.SetUsername(p.cfg.Username)
		o.SetPassword(p.password)
	}
	if p.cfg.TLS {
		o.SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { handle(m) })
	o.SetOnConnectHandler(func(c mqtt.Client) {
		subs := make(map[string]byte, len(filters))
		for _, f := range filters {
			subs[f] = 1
		}
		// A nil callback routes to the default handler, which also receives
		// messages the broker replays from the session before we resubscribe.
		t := c.SubscribeMultiple(subs, nil)
		if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			p.logger.Error("mqtt subscribe failed", "filters", filters, "err", t.Error())
			return
		}
		p.logger.Info("mqtt subscribed", "broker", p.cfg.URL, "client_id", p.cfg.ClientID, "filters", filters)
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		p.logger.Warn("mqtt connection lost; reconnecting", "broker", p.cfg.URL, "err", err)
	})
	p.c = mqtt.NewClient(o)
	t := p.c.Connect()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("mqtt connect %s: %w", p.cfg.URL, err)
		}
		return nil
	case <-ctx.Done():
		p.c.Disconnect(0)
		return ctx.Err()
	}
}

func (p *pahoClient) Disconnect() {
	if p.c != nil {
		p.c.Disconnect(250)
	}
}
