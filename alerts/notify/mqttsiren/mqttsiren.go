package mqttsiren

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/schemas"
)

// Topic patterns.
const (
	CommandTopic = "stations/%s/cmd/siren"
	AckFilter    = "stations/+/cmd/ack"
)

// Sentinel errors.
var (
	// ErrNotConnected is returned by Send before Run connected (retried).
	ErrNotConnected = errors.New("mqttsiren: not connected to the broker")
	// ErrRejected wraps a device's "error" acknowledgement.
	ErrRejected = errors.New("mqttsiren: device rejected the command")
	// ErrNoStation is returned for a notification that names no valid station.
	ErrNoStation = errors.New("mqttsiren: no valid station to command")
)

// Config configures a Channel.
type Config struct {
	// Name is the channel's name within its receiver, e.g. "siren[0]".
	Name string
	// Broker is the MQTT URL, e.g. tcp://127.0.0.1:1883.
	Broker   string
	ClientID string
	Username string
	Password string
	// Stations to command; empty means the alerts' own stations.
	Stations []string
	// AckTimeout is how long to wait for each device's ack (default 30s);
	// Retries is how many times a command is republished without an ack
	// before Send reports notify.ErrUnconfirmed (0: the default 2;
	// negative: none).
	AckTimeout time.Duration
	Retries    int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Command is what a device receives.
type Command struct {
	V        int              `json:"v"`
	ID       string           `json:"id"`
	AlertID  string           `json:"alert_id"`
	Station  string           `json:"station"`
	Level    int              `json:"level"`
	Severity schemas.Severity `json:"severity"`
	Pattern  string           `json:"pattern"`
	Text     string           `json:"text"`
	At       time.Time        `json:"at"`
}

// Ack is a device's acknowledgement as recorded.
type Ack struct {
	CommandID string    `json:"command_id"`
	AlertID   string    `json:"alert_id"`
	Station   string    `json:"station"`
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

type ackMsg struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Channel commands sirens.
type Channel struct {
	cfg       Config
	client    paho.Client
	connected atomic.Bool
	mu        sync.Mutex
	waiting   map[string]chan ackMsg // command id → waiter
	alertOf   map[string]string      // command id → alert id (bounded by in-flight commands)
	acks      map[string][]Ack       // alert id → acks
}

var _ notify.Channel = (*Channel)(nil)

// New checks cfg and returns a Channel; Run connects it.
func New(cfg Config) (*Channel, error) {
	if cfg.Broker == "" || cfg.ClientID == "" {
		return nil, errors.New("mqttsiren: broker and client id are required")
	}
	for _, s := range cfg.Stations {
		if !schemas.ValidStationID(s) {
			return nil, fmt.Errorf("mqttsiren: station %q is not a station id", s)
		}
	}
	if cfg.Name == "" {
		cfg.Name = "siren"
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 2
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Channel{cfg: cfg, waiting: map[string]chan ackMsg{}, alertOf: map[string]string{}, acks: map[string][]Ack{}}, nil
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return c.cfg.Name }

// Connected reports whether the channel is connected and subscribed to acks.
func (c *Channel) Connected() bool { return c.connected.Load() }

// Run connects (retrying, with paho's auto-reconnect), subscribes to the
// acknowledgements and holds the connection until ctx is done.
func (c *Channel) Run(ctx context.Context) error {
	opts := paho.NewClientOptions().AddBroker(c.cfg.Broker).SetClientID(c.cfg.ClientID).
		SetUsername(c.cfg.Username).SetPassword(c.cfg.Password).SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetOrderMatters(false).SetConnectTimeout(10 * time.Second)
	opts.SetOnConnectHandler(func(cl paho.Client) {
		t := cl.Subscribe(AckFilter, 1, c.onAck)
		go func() {
			if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
				c.cfg.Logger.Error("siren ack subscription failed", "broker", c.cfg.Broker, "filter", AckFilter, "err", t.Error())
				return
			}
			if st, ok := t.(*paho.SubscribeToken); ok {
				if r := st.Result()[AckFilter]; r == 0x80 {
					c.cfg.Logger.Error("siren ack subscription refused by the broker", "broker", c.cfg.Broker, "filter", AckFilter)
					return
				}
			}
			c.connected.Store(true)
		}()
	})
	opts.SetConnectionLostHandler(func(paho.Client, error) { c.connected.Store(false) })
	cl := paho.NewClient(opts)
	c.mu.Lock()
	c.client = cl
	c.mu.Unlock()
	cl.Connect() // with ConnectRetry the token completes only once connected; progress is via the handler
	<-ctx.Done()
	c.connected.Store(false)
	cl.Disconnect(250)
	return nil
}

func (c *Channel) onAck(_ paho.Client, m paho.Message) {
	parts := strings.Split(m.Topic(), "/")
	if len(parts) != 4 || !schemas.ValidStationID(parts[1]) {
		return
	}
	var a ackMsg
	if err := json.Unmarshal(m.Payload(), &a); err != nil || a.ID == "" {
		c.cfg.Logger.Warn("siren ack undecodable", "topic", m.Topic(), "err", err)
		return
	}
	// A device may only acknowledge its own commands.
	if !strings.HasSuffix(a.ID, "/"+parts[1]) {
		c.cfg.Logger.Warn("siren ack for another station's command", "topic", m.Topic(), "command", a.ID)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	alert, ok := c.alertOf[a.ID]
	if !ok {
		return // late ack of a command no longer waited for, or unknown
	}
	c.acks[alert] = append(c.acks[alert], Ack{CommandID: a.ID, AlertID: alert, Station: parts[1], Status: a.Status,
		Detail: a.Detail, At: c.cfg.Now()})
	if w := c.waiting[a.ID]; w != nil {
		select {
		case w <- a:
		default:
		}
	}
}

// Acks returns the acknowledgements recorded for an alert.
func (c *Channel) Acks(alertID string) []Ack {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.acks[alertID])
}

// CommandID is the id of the command for notification id to station.
func CommandID(notificationID, station string) string { return notificationID + "/" + station }

// Commands returns the commands n turns into, one per station.
func (c *Channel) Commands(n notify.Notification) []Command {
	var out []Command
	seen := map[string]bool{}
	add := func(station string, e schemas.AlertEvent) {
		if seen[station] || !schemas.ValidStationID(station) || strings.HasPrefix(station, "BASIN-") {
			return
		}
		seen[station] = true
		pattern := "alert"
		switch {
		case e.Kind == schemas.AlertResolved:
			pattern = "off"
		case e.Level >= 2:
			pattern = "bd3"
		}
		out = append(out, Command{V: 1, ID: CommandID(n.ID, station), AlertID: e.ID, Station: station, Level: e.Level,
			Severity: e.Severity, Pattern: pattern, Text: shortText(e), At: n.At})
	}
	if len(n.Alerts) == 0 {
		return nil
	}
	// The most severe alert drives the command.
	top := n.Alerts[0]
	for _, e := range n.Alerts[1:] {
		if e.Level > top.Level {
			top = e
		}
	}
	if len(c.cfg.Stations) > 0 {
		for _, s := range c.cfg.Stations {
			add(s, top)
		}
		return out
	}
	for _, e := range n.Alerts {
		add(e.Station, e)
	}
	return out
}

// shortText is what a roadside display shows (ASCII-safe Vietnamese is not
// assumed: displays get UTF-8).
func shortText(e schemas.AlertEvent) string {
	if e.Kind == schemas.AlertResolved {
		return "Hết cảnh báo / All clear"
	}
	name := e.LevelName
	if name == "" {
		name = e.Rule
	}
	return fmt.Sprintf("%s: %s %.2f", e.Station, name, e.Value)
}

// Send implements notify.Channel: every station's command is published and
// acknowledged, or Send fails (notify.ErrUnconfirmed for a missing ack).
func (c *Channel) Send(ctx context.Context, n notify.Notification) error {
	cmds := c.Commands(n)
	if len(cmds) == 0 {
		return fmt.Errorf("mqttsiren notification %s: %w: %w", n.ID, ErrNoStation, notify.ErrPermanent)
	}
	var errs []error
	for _, cmd := range cmds {
		if err := c.command(ctx, cmd); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Channel) command(ctx context.Context, cmd Command) error {
	if !c.connected.Load() {
		return fmt.Errorf("mqttsiren station %s command %s: %w", cmd.Station, cmd.ID, ErrNotConnected)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	w := make(chan ackMsg, 1)
	c.mu.Lock()
	c.waiting[cmd.ID], c.alertOf[cmd.ID] = w, cmd.AlertID
	cl := c.client
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, cmd.ID)
		delete(c.alertOf, cmd.ID)
		c.mu.Unlock()
	}()
	topic := fmt.Sprintf(CommandTopic, cmd.Station)
	for attempt := 1; attempt <= 1+c.cfg.Retries; attempt++ {
		t := cl.Publish(topic, 1, false, body)
		select {
		case <-t.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := t.Error(); err != nil {
			return fmt.Errorf("mqttsiren station %s topic %s command %s attempt %d: publish: %w", cmd.Station, topic, cmd.ID, attempt, err)
		}
		timer := time.NewTimer(c.cfg.AckTimeout)
		select {
		case a := <-w:
			timer.Stop()
			if a.Status != "ok" {
				return fmt.Errorf("mqttsiren station %s command %s: %w: %s %s", cmd.Station, cmd.ID, ErrRejected, a.Status, a.Detail)
			}
			return nil
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			c.cfg.Logger.Warn("siren command not acknowledged", "station", cmd.Station, "command", cmd.ID, "attempt", attempt,
				"timeout", c.cfg.AckTimeout)
		}
	}
	return fmt.Errorf("mqttsiren station %s command %s: no ack within %s after %d attempts: %w",
		cmd.Station, cmd.ID, c.cfg.AckTimeout, 1+c.cfg.Retries, notify.ErrUnconfirmed)
}
