package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/alerts/publish"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// PublishConfig is the `publish:` section: CAP 1.2 public warnings with a
// publisher's approval (alerts/publish). An empty sender turns them off.
type PublishConfig struct {
	// Sender identifies the issuing authority in every document (e.g.
	// pctt.danang.gov.vn; no spaces or commas). Empty: no public warnings.
	Sender       string `yaml:"sender"`
	SenderNameVI string `yaml:"sender_name_vi"`
	SenderNameEN string `yaml:"sender_name_en"`
	// IdentifierPrefix is put before every identifier (e.g.
	// vn.danang.pctt.).
	IdentifierPrefix string `yaml:"identifier_prefix"`
	// Status of the documents: Actual, or Exercise / Test for drills.
	Status string `yaml:"status"`
	// MinSeverity is the lowest alert severity that becomes a draft
	// (Minor, Moderate, Severe, Extreme).
	MinSeverity string `yaml:"min_severity"`
	// RadiusKM is the radius of the area's circle around the station.
	RadiusKM float64 `yaml:"radius_km"`
	// Expires and AllClearExpires: how long a warning and an all-clear
	// stay valid after they are sent.
	Expires         time.Duration `yaml:"expires"`
	AllClearExpires time.Duration `yaml:"all_clear_expires"`
	// Web and Contact go into every info block when set.
	Web     string `yaml:"web"`
	Contact string `yaml:"contact"`
	// BaseURL is the public URL the feed is reached at (entry ids and
	// links); default http://{http.listen}.
	BaseURL   string `yaml:"base_url"`
	FeedTitle string `yaml:"feed_title"`
	// Log is where issued documents and discards are kept: file
	// (data_dir/publish/cap.log, one replica) or kafka (the topic
	// <prefix>cap.log, shared by replicas).
	Log PublishLogConfig `yaml:"log"`
}

// PublishLogConfig is the `publish.log:` section.
type PublishLogConfig struct {
	Kind string `yaml:"kind"`
}

func defaultPublishConfig() PublishConfig {
	return PublishConfig{MinSeverity: string(schemas.SeveritySevere), Log: PublishLogConfig{Kind: "file"}}
}

// builderConfig is the cap.Builder configuration of the section.
func (c PublishConfig) builderConfig() cap.Config {
	return cap.Config{Sender: c.Sender, SenderNameVI: c.SenderNameVI, SenderNameEN: c.SenderNameEN,
		IdentifierPrefix: c.IdentifierPrefix, Status: cap.Status(c.Status), RadiusKM: c.RadiusKM,
		Expires: c.Expires, AllClearExpires: c.AllClearExpires, Web: c.Web, Contact: c.Contact}
}

// validate checks the publish section; each error names its key.
func (c PublishConfig) validate() []error {
	var errs []error
	if c.Log.Kind != "file" && c.Log.Kind != "kafka" {
		errs = append(errs, fmt.Errorf("publish.log.kind: %q is not one of file, kafka", c.Log.Kind))
	}
	switch schemas.Severity(c.MinSeverity) {
	case schemas.SeverityMinor, schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme:
	default:
		errs = append(errs, fmt.Errorf("publish.min_severity: %q is not one of Minor, Moderate, Severe, Extreme", c.MinSeverity))
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("publish.base_url: %q is not an http(s) URL", c.BaseURL))
		}
	}
	if c.Sender == "" {
		return errs
	}
	if _, err := cap.NewBuilder(c.builderConfig()); err != nil {
		errs = append(errs, fmt.Errorf("publish: %w", err))
	}
	return errs
}

// wirePublish builds the CAP publisher (nil config sender: none, next is
// returned as is) and returns the dispatcher the alerts service feeds: it
// shows the publisher every event the dispatcher is given (live events,
// replayed events younger than alerts.notify_max_age, operator resolves)
// and passes them on to next (nil: none). The publisher's public feed and
// publisher endpoints are kept for wireHTTP.
func (w *wiring) wirePublish(next alerts.Dispatcher) (alerts.Dispatcher, error) {
	pc := w.cfg.Publish
	if pc.Sender == "" {
		w.logger.Info("publish.sender empty: no public CAP warnings")
		return next, nil
	}
	b, err := cap.NewBuilder(pc.builderConfig())
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	log, err := w.publishLog()
	if err != nil {
		return nil, err
	}
	logger := w.logger.With("component", "publish")
	p, err := publish.New(w.lc.wiringCtx(), publish.Config{MinSeverity: schemas.Severity(pc.MinSeverity)},
		publish.Options{Builder: b, Log: log, Stations: w.stations, Logger: logger, Registerer: w.reg})
	if err != nil {
		return nil, err
	}
	w.lc.run(stageAlerts, "cap publisher", p.Run)
	fc := publish.FeedConfig{BaseURL: pc.BaseURL, Title: pc.FeedTitle}
	if fc.BaseURL == "" {
		fc.BaseURL = "http://" + w.cfg.HTTP.Listen
	}
	w.st.Publisher = p
	w.capAPI = httpapi.NewCAP(capAPI{p: p, feed: fc}, publish.NewHandler(p, fc), logger)
	return publishingDispatcher{p: p, next: next}, nil
}

// publishLog opens publish.log: a file under data_dir (one replica) or the
// topic <prefix>cap.log (shared by replicas).
func (w *wiring) publishLog() (publish.Log, error) {
	kind := w.cfg.Publish.Log.Kind
	var l interface {
		publish.Log
		Close() error
	}
	var err error
	switch kind {
	case "kafka":
		l, err = publish.OpenKafka(w.lc.wiringCtx(), publish.KafkaOptions{Brokers: w.cfg.Kafka.Brokers,
			Topic: w.cfg.Kafka.TopicPrefix + publish.DefaultTopic, ReplicationFactor: w.cfg.Kafka.ReplicationFactor,
			Logger: w.logger})
	default:
		dir := filepath.Join(w.cfg.DataDir, "publish")
		if err = os.MkdirAll(dir, 0o750); err == nil {
			l, err = publish.OpenFile(filepath.Join(dir, "cap.log"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("publish.log (%s): %w", kind, err)
	}
	w.lc.closeAfterParts(func() { l.Close() })
	return l, nil
}

// publishingDispatcher shows the publisher every event before the
// dispatcher (if any) gets it. Observe does no I/O.
type publishingDispatcher struct {
	p    *publish.Publisher
	next alerts.Dispatcher
}

func (d publishingDispatcher) Submit(e schemas.AlertEvent) {
	d.p.Observe(e)
	if d.next != nil {
		d.next.Submit(e)
	}
}

func (d publishingDispatcher) Ack(alertID string) {
	if d.next != nil {
		d.next.Ack(alertID)
	}
}

func (d publishingDispatcher) Unack(alertID string) {
	if d.next != nil {
		d.next.Unack(alertID)
	}
}

// capAPI adapts the publisher to the HTTP layer's CAPPublisher.
type capAPI struct {
	p    *publish.Publisher
	feed publish.FeedConfig
}

var _ httpapi.CAPPublisher = capAPI{}

func (a capAPI) Drafts() []httpapi.CAPDraft {
	ds := a.p.Drafts()
	out := make([]httpapi.CAPDraft, len(ds))
	for i, d := range ds {
		out[i] = capDraft(d)
	}
	return out
}

func (a capAPI) Draft(alertID string) (httpapi.CAPDraft, []byte, error) {
	d, ok := a.p.Draft(alertID)
	if !ok {
		return httpapi.CAPDraft{}, nil, httpapi.ErrNoCAPDraft
	}
	preview, err := a.p.Preview(alertID, cap.Texts{})
	if err != nil {
		return httpapi.CAPDraft{}, nil, capError(err)
	}
	return capDraft(d), preview, nil
}

func (a capAPI) Approve(ctx context.Context, alertID, by string, edits httpapi.CAPTexts) (httpapi.CAPDocument, error) {
	r, err := a.p.Approve(ctx, alertID, by, cap.Texts{VI: cap.Text(edits.VI), EN: cap.Text(edits.EN)})
	if err != nil {
		return httpapi.CAPDocument{}, capError(err)
	}
	return httpapi.CAPDocument{Identifier: r.Identifier, AlertID: r.AlertID, Seq: r.Seq, MsgType: string(r.MsgType),
		AllClear: r.AllClear, Sent: r.Sent, ApprovedBy: r.ApprovedBy, Headline: r.Headline, URL: a.feed.DocURL(r.Identifier)}, nil
}

func (a capAPI) Discard(ctx context.Context, alertID, by, reason string) error {
	return capError(a.p.Discard(ctx, alertID, by, reason))
}

// capError maps the publisher's sentinels to the HTTP layer's.
func capError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, publish.ErrNoDraft):
		return fmt.Errorf("%w: %v", httpapi.ErrNoCAPDraft, err)
	case errors.Is(err, publish.ErrAlreadyIssued):
		return fmt.Errorf("%w: %v", httpapi.ErrCAPIssued, err)
	case errors.Is(err, publish.ErrNoApprover), errors.Is(err, publish.ErrNoReason):
		return fmt.Errorf("%w: %v", httpapi.ErrBadCAPRequest, err)
	}
	return err
}

func capDraft(d publish.Draft) httpapi.CAPDraft {
	return httpapi.CAPDraft{AlertID: d.AlertID, MsgType: string(d.MsgType), AllClear: d.AllClear, Event: d.Event,
		Texts:      httpapi.CAPTexts{VI: httpapi.CAPText(d.Texts.VI), EN: httpapi.CAPText(d.Texts.EN)},
		References: d.References, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}
