package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/schemas"
)

// MQTTConfig configures the embedded MQTT broker.
type MQTTConfig struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"-"`
	// Dev accepts anonymous clients (never in production).
	Dev bool `yaml:"-"`
	// CredentialsFile lists devices and collectors with bcrypt password
	// hashes; required unless Dev.
	CredentialsFile string `yaml:"credentials_file"`
	// InternalUser and InternalPassword, if set, are a collector credential
	// for the in-process collector of `resilience run` (generated at start,
	// never written anywhere).
	InternalUser     string `yaml:"-"`
	InternalPassword string `yaml:"-"`
	// MaxInflight is, per subscriber, the most unacknowledged QoS 1
	// messages the broker queues (also while a persistent session is
	// offline). At that level a publish whose message would go to that
	// subscriber waits (the publisher's socket is not read) until the
	// subscriber acknowledges, instead of the broker dropping messages: one
	// fast publisher slows down, the others' messages are not lost. 0: 8192;
	// at most 32768, so that mochi's own limit (65535, where it drops) keeps
	// a headroom of concurrent publishes. More is not faster: mochi copies
	// and sorts every client's in-flight messages once a second (expiry),
	// which at 32768 for a collector that lags was a tenth of `run`'s CPU,
	// and a deeper queue is only more latency.
	MaxInflight uint16 `yaml:"max_inflight"`
	// MaxPacketSize is the largest MQTT packet the broker accepts, in bytes;
	// a client sending a larger one is disconnected (counted by TooLarge)
	// before the packet is read into memory. 0: 256 KiB, above the
	// collector's ingest.max_payload (64 KiB by default, larger payloads are
	// dead-lettered) and a device's catch-up batch (64–200 KiB).
	MaxPacketSize int `yaml:"max_packet_size"`
	// PublishWait bounds how long a publish waits for a subscriber at
	// MaxInflight (and so does the publisher's keepalive); then the
	// publisher is disconnected without an acknowledgement and sends the
	// message again after reconnecting. 0: 10s.
	PublishWait time.Duration `yaml:"publish_wait"`
	// StoreFlushInterval is how long session-state changes (sessions,
	// subscriptions, in-flight messages) are collected before they are
	// written to the bolt store in one transaction; a process crash loses at
	// most this window (see storeHook). 0: 5ms.
	StoreFlushInterval time.Duration `yaml:"store_flush_interval"`
}

// Defaults of MQTTConfig.
const (
	DefaultMaxInflight = 8192
	// MaxMaxInflight is the most max_inflight may be, so that mochi's own
	// limit (mochiMaxInflight, where it drops) keeps a headroom of
	// concurrent publishes.
	MaxMaxInflight            = 32768
	DefaultMaxPacketSize      = 256 << 10
	DefaultPublishWait        = 10 * time.Second
	DefaultStoreFlushInterval = 5 * time.Millisecond
	// mochiMaxInflight is mochi's per-client limit, beyond which it drops.
	mochiMaxInflight = 65535
	// maxPendingChanges bounds the session-state changes waiting for a
	// store flush (distinct keys).
	maxPendingChanges = 1 << 14
)

// withDefaults fills the zero values.
func (c MQTTConfig) withDefaults() MQTTConfig {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:1883"
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.PublishWait == 0 {
		c.PublishWait = DefaultPublishWait
	}
	if c.StoreFlushInterval == 0 {
		c.StoreFlushInterval = DefaultStoreFlushInterval
	}
	return c
}

// Validate checks the settings (zero values take their defaults); each
// error names its key under mqtt.embedded.
func (c MQTTConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxInflight > MaxMaxInflight {
		errs = append(errs, fmt.Errorf("mqtt.embedded.max_inflight: %d is over %d (the broker keeps headroom below its own limit of %d)",
			c.MaxInflight, MaxMaxInflight, mochiMaxInflight))
	}
	if c.MaxPacketSize < 1<<10 || c.MaxPacketSize > 256<<20 {
		errs = append(errs, fmt.Errorf("mqtt.embedded.max_packet_size: %d must be between 1024 and %d bytes (default %d)",
			c.MaxPacketSize, 256<<20, DefaultMaxPacketSize))
	}
	if c.PublishWait < 0 || c.PublishWait > 5*time.Minute {
		errs = append(errs, fmt.Errorf("mqtt.embedded.publish_wait: %s must be between 0 (default %s) and 5m", c.PublishWait, DefaultPublishWait))
	}
	if c.StoreFlushInterval < 0 || c.StoreFlushInterval > time.Second {
		errs = append(errs, fmt.Errorf("mqtt.embedded.store_flush_interval: %s must be between 0 (default %s) and 1s",
			c.StoreFlushInterval, DefaultStoreFlushInterval))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("mqtt.embedded.listen: %v", err))
	}
	return errors.Join(errs...)
}

// packetOverhead is room for an MQTT PUBLISH's header, topic and
// properties on top of its payload.
const packetOverhead = 1 << 10

// ValidateFor is Validate plus the check that the packet limit lets through
// every payload the collector accepts (maxPayload: ingest.max_payload) with
// its MQTT header: a payload over ingest.max_payload reaches the collector,
// which dead-letters it with a reason, instead of the broker disconnecting
// the device.
func (c MQTTConfig) ValidateFor(maxPayload int) error {
	err := c.Validate()
	if d := c.withDefaults(); err == nil && d.MaxPacketSize < maxPayload+packetOverhead {
		err = fmt.Errorf("mqtt.embedded.max_packet_size: %d must be at least ingest.max_payload (%d) + %d bytes of MQTT header",
			d.MaxPacketSize, maxPayload, packetOverhead)
	}
	return err
}

// Credentials is the credentials file.
type Credentials struct {
	Devices []struct {
		ID           string `yaml:"id"`
		PasswordHash string `yaml:"password_hash"`
	} `yaml:"devices"`
	Collectors []struct {
		Username     string `yaml:"username"`
		PasswordHash string `yaml:"password_hash"`
	} `yaml:"collectors"`
}

// LoadCredentials reads and validates a credentials file.
func LoadCredentials(path string) (*Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mqtt.embedded.credentials_file: %w", err)
	}
	return ParseCredentials(b, path)
}

// ParseCredentials parses and validates the credentials file b (read from
// path, which only names it in errors).
func ParseCredentials(b []byte, path string) (*Credentials, error) {
	var c Credentials
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("mqtt.embedded.credentials_file %s: %w", path, err)
	}
	var errs []error
	for i, d := range c.Devices {
		if !schemas.ValidStationID(d.ID) {
			errs = append(errs, fmt.Errorf("mqtt.embedded.credentials_file devices[%d].id: %q is not a station id", i, d.ID))
		}
		if !strings.HasPrefix(d.PasswordHash, "$2") {
			errs = append(errs, fmt.Errorf("mqtt.embedded.credentials_file devices[%d].password_hash: must be a bcrypt hash (resilience hash-password)", i))
		}
	}
	for i, d := range c.Collectors {
		if d.Username == "" || !strings.HasPrefix(d.PasswordHash, "$2") {
			errs = append(errs, fmt.Errorf("mqtt.embedded.credentials_file collectors[%d]: username and a bcrypt password_hash are required", i))
		}
	}
	return &c, errors.Join(errs...)
}

// MQTTBroker is the embedded broker.
type MQTTBroker struct {
	cfg    MQTTConfig
	srv    *mqtt.Server
	flow   *flowHook
	logger *slog.Logger
}

// NewMQTT configures the broker; Run starts it.
func NewMQTT(cfg MQTTConfig, logger *slog.Logger) (*MQTTBroker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = mochiMaxInflight
	// MQTT 5 publishers may have this many QoS 1/2 publishes unacknowledged.
	caps.ReceiveMaximum = cfg.MaxInflight
	// The write queue of a client holds at most its in-flight messages
	// (flowHook keeps them under MaxInflight) plus QoS 0 traffic.
	caps.MaximumClientWritesPending = 2 * int32(cfg.MaxInflight)
	caps.MaximumPacketSize = uint32(cfg.MaxPacketSize)
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	caps.MaximumMessageExpiryInterval = 7 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Capabilities: caps,
		Logger: logger.With("component", "embedded-mqtt")})
	b := &MQTTBroker{cfg: cfg, srv: srv, logger: logger}
	if err := b.addHooks(); err != nil {
		_ = srv.Close() // stops the hooks added so far
		return nil, err
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Listen})); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("embedded mqtt %s: %w", cfg.Listen, err)
	}
	return b, nil
}

// addHooks adds, in order, authentication, flow control and (with a
// DataDir) the session store.
func (b *MQTTBroker) addHooks() error {
	cfg, srv := b.cfg, b.srv
	if cfg.Dev {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return err
		}
	} else {
		if cfg.CredentialsFile == "" {
			return errors.New("mqtt.embedded.credentials_file: required unless --dev (devices must authenticate)")
		}
		creds, err := LoadCredentials(cfg.CredentialsFile)
		if err != nil {
			return err
		}
		hook := newAuthHook(creds)
		if cfg.InternalUser != "" {
			h, err := bcrypt.GenerateFromPassword([]byte(cfg.InternalPassword), bcrypt.DefaultCost)
			if err != nil {
				return fmt.Errorf("embedded mqtt: internal credential: %w", err)
			}
			hook.collectors[cfg.InternalUser] = h
		}
		if err := srv.AddHook(hook, nil); err != nil {
			return err
		}
	}
	b.flow = newFlowHook(int(cfg.MaxInflight), cfg.PublishWait)
	b.flow.srv = srv
	if err := srv.AddHook(b.flow, nil); err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("embedded mqtt: storage: %w", err)
	}
	// Written behind, in one bolt transaction per StoreFlushInterval, and
	// without fsync (bolt fsyncs twice per commit otherwise): session state
	// survives a process crash up to the last flush, not a power cut;
	// readings are durable once in the (fsynced) Kafka log. storeHook
	// states what a crash loses.
	store := newStoreHook(storeOptions{Path: filepath.Join(cfg.DataDir, "mqtt.db"),
		FlushInterval: cfg.StoreFlushInterval, MaxPending: maxPendingChanges})
	if err := srv.AddHook(store, nil); err != nil {
		return fmt.Errorf("embedded mqtt: storage: %w", err)
	}
	return nil
}

// URL is the broker's address for clients.
func (b *MQTTBroker) URL() string { return "tcp://" + b.cfg.Listen }

// Dropped returns the messages the broker dropped: QoS>0 messages over a
// client's in-flight quota, and messages to a subscriber whose outbound
// buffer was full. With flow control it stays 0 unless more publishes than
// mochi's headroom (65535 - max_inflight) pass the check at one instant.
func (b *MQTTBroker) Dropped() int64 {
	i := b.srv.Info.Clone()
	return i.InflightDropped + i.MessagesDropped
}

// Connected reports whether the client with this id has an open
// connection (a persistent session without one is not connected).
func (b *MQTTBroker) Connected(clientID string) bool {
	cl, ok := b.srv.Clients.Get(clientID)
	return ok && !cl.Closed()
}

// TooLarge returns the clients disconnected for sending a packet over
// max_packet_size.
func (b *MQTTBroker) TooLarge() int64 { return b.flow.tooLarge.Load() }

// Throttled returns the publishes that had to wait for a subscriber at
// max_inflight.
func (b *MQTTBroker) Throttled() int64 { return b.flow.throttled.Load() }

// ThrottleDisconnects returns the publishers disconnected (their message
// refused, not acknowledged) after waiting publish_wait.
func (b *MQTTBroker) ThrottleDisconnects() int64 { return b.flow.refused.Load() }

// Register adds the broker's counters to reg.
func (b *MQTTBroker) Register(reg prometheus.Registerer) error {
	counters := []struct {
		name, help string
		f          func() int64
	}{
		{"resilience_embedded_mqtt_dropped_total", "QoS>0 messages the embedded MQTT broker dropped (client in-flight quota or write queue full).", b.Dropped},
		{"resilience_embedded_mqtt_too_large_total", "Clients the embedded MQTT broker disconnected for a packet over mqtt.embedded.max_packet_size.", b.TooLarge},
		{"resilience_embedded_mqtt_throttled_total", "Publishes that waited for a subscriber at mqtt.embedded.max_inflight.", b.Throttled},
		{"resilience_embedded_mqtt_throttle_disconnects_total", "Publishers disconnected, message refused, after waiting mqtt.embedded.publish_wait.", b.ThrottleDisconnects},
	}
	for _, c := range counters {
		f := c.f
		if err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(f()) })); err != nil {
			return fmt.Errorf("embedded mqtt: metric %s: %w", c.name, err)
		}
	}
	return nil
}

// Run serves until ctx is done.
func (b *MQTTBroker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("embedded mqtt %s: %w", b.cfg.Listen, err)
	}
	b.logger.Info("embedded MQTT broker listening", "addr", b.cfg.Listen, "dev", b.cfg.Dev,
		"max_inflight", b.cfg.MaxInflight, "max_packet_size", b.cfg.MaxPacketSize)
	<-ctx.Done()
	return b.srv.Close()
}

// authHook authenticates against the credentials file and enforces
// per-device topics.
type authHook struct {
	mqtt.HookBase
	devices    map[string][]byte
	collectors map[string][]byte
}

func newAuthHook(c *Credentials) *authHook {
	h := &authHook{devices: map[string][]byte{}, collectors: map[string][]byte{}}
	for _, d := range c.Devices {
		h.devices[d.ID] = []byte(d.PasswordHash)
	}
	for _, d := range c.Collectors {
		h.collectors[d.Username] = []byte(d.PasswordHash)
	}
	return h
}

func (h *authHook) ID() string { return "resilience-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate checks the password and ties the client id to the
// user, so that no client can take over another's persistent session (and
// with it the other's subscriptions and unacknowledged messages): a device
// must use its station id as client id, or the id followed by '-' or '_'
// and a suffix; a collector may use any client id that is not a device's.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	cid := pk.Connect.ClientIdentifier
	hash, device := h.devices[user]
	if device {
		if cid != user && !strings.HasPrefix(cid, user+"-") && !strings.HasPrefix(cid, user+"_") {
			return false
		}
	} else {
		var ok bool
		if hash, ok = h.collectors[user]; !ok {
			return false
		}
		if h.devicePrefixed(cid) {
			return false
		}
	}
	return bcrypt.CompareHashAndPassword(hash, pk.Connect.Password) == nil
}

// devicePrefixed reports whether a client id belongs to a device's space.
func (h *authHook) devicePrefixed(cid string) bool {
	for id := range h.devices {
		if cid == id || strings.HasPrefix(cid, id+"-") || strings.HasPrefix(cid, id+"_") {
			return true
		}
	}
	return false
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if _, ok := h.collectors[user]; ok {
		return !write // collectors subscribe; they never publish readings
	}
	if _, ok := h.devices[user]; ok {
		// A device may publish only under its own prefix, and read its downlink.
		prefix := "stations/" + user + "/"
		if write {
			return strings.HasPrefix(topic, prefix)
		}
		return strings.HasPrefix(topic, prefix+"cmd/")
	}
	return false
}
