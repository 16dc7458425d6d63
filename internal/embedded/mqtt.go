package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
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
	// MaxInflight is the most unacknowledged QoS 1 messages the broker holds
	// per client (including while a persistent session is offline). Beyond
	// it mochi drops messages, so it is set to its maximum.
	MaxInflight uint16 `yaml:"max_inflight"`
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
	logger *slog.Logger
}

// NewMQTT configures the broker; Run starts it.
func NewMQTT(cfg MQTTConfig, logger *slog.Logger) (*MQTTBroker, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:1883"
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = 65535
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = cfg.MaxInflight
	caps.ReceiveMaximum = cfg.MaxInflight
	caps.MaximumClientWritesPending = 64 * 1024
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	caps.MaximumMessageExpiryInterval = 7 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Capabilities: caps,
		Logger: logger.With("component", "embedded-mqtt")})
	if cfg.Dev {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return nil, err
		}
	} else {
		if cfg.CredentialsFile == "" {
			return nil, errors.New("mqtt.embedded.credentials_file: required unless --dev (devices must authenticate)")
		}
		creds, err := LoadCredentials(cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		hook := newAuthHook(creds)
		if cfg.InternalUser != "" {
			h, err := bcrypt.GenerateFromPassword([]byte(cfg.InternalPassword), bcrypt.DefaultCost)
			if err != nil {
				return nil, fmt.Errorf("embedded mqtt: internal credential: %w", err)
			}
			hook.collectors[cfg.InternalUser] = h
		}
		if err := srv.AddHook(hook, nil); err != nil {
			return nil, err
		}
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, err
		}
		// NoSync: bolt fsyncs twice per QoS 1 message otherwise, which caps
		// the broker near 110 msg/s. Session state then survives a process
		// crash but not a power cut; readings are durable once in the
		// (fsynced) Kafka log, milliseconds after they arrive.
		if err := srv.AddHook(new(bolt.Hook), &bolt.Options{Path: filepath.Join(cfg.DataDir, "mqtt.db"),
			Options: &bbolt.Options{Timeout: time.Second, NoSync: true}}); err != nil {
			return nil, fmt.Errorf("embedded mqtt: storage: %w", err)
		}
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Listen})); err != nil {
		return nil, err
	}
	return &MQTTBroker{cfg: cfg, srv: srv, logger: logger}, nil
}

// URL is the broker's address for clients.
func (b *MQTTBroker) URL() string { return "tcp://" + b.cfg.Listen }

// Dropped returns the messages the broker dropped: QoS>0 messages over a
// client's in-flight quota, and messages to a subscriber whose outbound
// buffer was full.
func (b *MQTTBroker) Dropped() int64 {
	i := b.srv.Info.Clone()
	return i.InflightDropped + i.MessagesDropped
}

// Run serves until ctx is done.
func (b *MQTTBroker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("embedded mqtt %s: %w", b.cfg.Listen, err)
	}
	b.logger.Info("embedded MQTT broker listening", "addr", b.cfg.Listen, "dev", b.cfg.Dev)
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
