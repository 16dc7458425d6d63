package alerts

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/email"
	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/notify/webhook"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/schemas"
)

// ErrNoSMTP is returned by BuildChannels for an email receiver without an
// SMTP server configured (alerts.smtp.addr), ErrNoMQTT for a siren receiver
// without a broker.
var (
	ErrNoSMTP = errors.New("email receiver without alerts.smtp.addr")
	ErrNoMQTT = errors.New("siren receiver without an MQTT broker")
)

// ChannelOptions is what BuildChannels needs besides the routing file.
type ChannelOptions struct {
	// BaseDir resolves relative secret_file paths (the routing file's
	// directory).
	BaseDir    string
	ConsoleURL string
	Registry   *schemas.Registry
	SMTPAddr   string
	SMTPFrom   string
	SMTPAuth   *email.Auth
	RequireTLS bool
	// MQTT is the sirens' broker; ClientIDPrefix makes each siren
	// channel's client id (it must differ between replicas).
	MQTTURL, MQTTUsername, MQTTPassword string
	ClientIDPrefix                      string
	Logger                              *slog.Logger
}

// Channels are the channels of every receiver of a routing tree; Sirens
// must be run (Run) to connect.
type Channels struct {
	ByReceiver map[string][]notify.Channel
	Sirens     []*mqttsiren.Channel
}

// BuildChannels makes the channels of every receiver of t; channel names
// are "webhook[i]", "email[i]", "siren[i]" within their receiver (the
// notification log's targets, so keep them stable). Every problem is
// reported, each naming its receiver.
func BuildChannels(t *route.Tree, o ChannelOptions) (Channels, error) {
	out := Channels{ByReceiver: map[string][]notify.Channel{}}
	var errs []error
	for _, name := range t.ReceiverNames() {
		rc, _ := t.Receiver(name)
		chans, sirens, err := receiverChannels(rc, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("receiver %s: %w", name, err))
			continue
		}
		out.ByReceiver[name] = chans
		out.Sirens = append(out.Sirens, sirens...)
	}
	return out, errors.Join(errs...)
}

func receiverChannels(rc route.Receiver, o ChannelOptions) ([]notify.Channel, []*mqttsiren.Channel, error) {
	var chans []notify.Channel
	var sirens []*mqttsiren.Channel
	var errs []error
	for i, wh := range rc.Webhooks {
		path := wh.SecretFile
		if !filepath.IsAbs(path) && o.BaseDir != "" {
			path = filepath.Join(o.BaseDir, path)
		}
		secret, err := webhook.LoadSecret(path)
		if err == nil {
			var ch *webhook.Channel
			ch, err = webhook.New(webhook.Config{Name: "webhook[" + strconv.Itoa(i) + "]", URL: wh.URL, Secret: secret,
				Registry: o.Registry, ConsoleURL: o.ConsoleURL})
			if err == nil {
				chans = append(chans, ch)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook[%d]: %w", i, err))
		}
	}
	for i, em := range rc.Emails {
		if o.SMTPAddr == "" {
			errs = append(errs, fmt.Errorf("email[%d]: %w", i, ErrNoSMTP))
			continue
		}
		ch, err := email.New(email.Config{Name: "email[" + strconv.Itoa(i) + "]", Addr: o.SMTPAddr, From: o.SMTPFrom, To: em.To,
			Lang: em.Lang, Auth: o.SMTPAuth, RequireTLS: o.RequireTLS, Registry: o.Registry, ConsoleURL: o.ConsoleURL})
		if err != nil {
			errs = append(errs, fmt.Errorf("email[%d]: %w", i, err))
			continue
		}
		chans = append(chans, ch)
	}
	for i, sr := range rc.Sirens {
		if o.MQTTURL == "" {
			errs = append(errs, fmt.Errorf("siren[%d]: %w", i, ErrNoMQTT))
			continue
		}
		name := "siren[" + strconv.Itoa(i) + "]"
		ch, err := mqttsiren.New(mqttsiren.Config{Name: name, Broker: o.MQTTURL, ClientID: o.ClientIDPrefix + rc.Name + "-siren" + strconv.Itoa(i),
			Username: o.MQTTUsername, Password: o.MQTTPassword, Stations: sr.Stations, Logger: o.Logger})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		chans = append(chans, ch)
		sirens = append(sirens, ch)
	}
	return chans, sirens, errors.Join(errs...)
}
