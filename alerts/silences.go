package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/alerts/silence"
)

// CreateSilence validates sil (an empty ID is given a new random one),
// produces its create record to the actions topic (acks=all, key
// silence.Key(id)) and folds it into this replica's set, so it is in
// Silences() when CreateSilence returns; other replicas, and this one
// after a restart, fold it from the topic. Errors: silence.ErrInvalid
// (wrapped, naming the field), ErrNoWriter, or the producer's.
func (s *Service) CreateSilence(ctx context.Context, sil silence.Silence) (string, error) {
	if sil.ID == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		sil.ID = hex.EncodeToString(b[:])
	}
	sil.ExpiredBy = ""
	if err := sil.Validate(); err != nil {
		return "", err
	}
	rec := silence.Record{Kind: silence.KindCreate, By: sil.Author, At: s.o.Now().UTC(), Silence: sil}
	if err := s.produceSilence(ctx, rec); err != nil {
		return "", err
	}
	s.logger.Info("silence created", "silence", sil.ID, "by", sil.Author, "matchers", sil.Matchers,
		"start", sil.Start, "end", sil.End, "comment", sil.Comment)
	return sil.ID, nil
}

// ExpireSilence ends silence id now, recorded as done by `by`: it produces
// the expired silence to the actions topic and folds it here. Expiring an
// ended silence changes nothing but is not an error. Errors:
// silence.ErrNotFound (wrapped), ErrBadSilenceAction (empty by),
// ErrNoWriter, or the producer's.
func (s *Service) ExpireSilence(ctx context.Context, id, by string) error {
	if by == "" {
		return fmt.Errorf("silence %q: by: required: %w", id, ErrBadSilenceAction)
	}
	cur, ok := s.o.Silences.Get(id)
	if !ok {
		return fmt.Errorf("silence %q: %w", id, silence.ErrNotFound)
	}
	now := s.o.Now().UTC()
	rec := silence.Record{Kind: silence.KindExpire, By: by, At: now, Silence: cur.Expired(now, by)}
	if err := s.produceSilence(ctx, rec); err != nil {
		return err
	}
	s.logger.Info("silence expired", "silence", id, "by", by)
	return nil
}

// Silences returns every silence in the set (active, pending, and ended
// ones until SilenceRetention drops them), by id.
func (s *Service) Silences() []silence.Silence { return s.o.Silences.List() }

// produceSilence writes rec durably to the actions topic, then folds it.
func (s *Service) produceSilence(ctx context.Context, rec silence.Record) error {
	if s.o.Writer == nil || s.o.Topics.Actions == "" {
		return ErrNoWriter
	}
	b, err := rec.Encode()
	if err != nil {
		return fmt.Errorf("silence %s: %s: %w", rec.Silence.ID, rec.Kind, err)
	}
	if err := s.o.Writer.WriteMessages(ctx, kafka.Message{Topic: s.o.Topics.Actions, Key: []byte(silence.Key(rec.Silence.ID)), Value: b}); err != nil {
		return fmt.Errorf("silence %s: %s: topic %s: %w", rec.Silence.ID, rec.Kind, s.o.Topics.Actions, err)
	}
	if _, err := s.o.Silences.Fold(rec.Silence); err != nil {
		return fmt.Errorf("silence %s: %s: %w", rec.Silence.ID, rec.Kind, err) // validated above: not reached
	}
	return nil
}

// handleSilence folds a silence record of the actions topic.
func (s *Service) handleSilence(partition int, m kafka.Message) {
	rec, err := silence.DecodeRecord(m.Value)
	if err != nil {
		s.actions.WithLabelValues("bad").Inc()
		s.logger.Error("skipping bad silence record", "topic", m.Topic, "partition", partition, "offset", m.Offset, "err", err)
		return
	}
	changed, err := s.o.Silences.Fold(rec.Silence)
	switch {
	case err != nil: // DecodeRecord validated it: not reached
		s.actions.WithLabelValues("bad").Inc()
	case changed:
		s.actions.WithLabelValues("applied").Inc()
	default:
		s.actions.WithLabelValues("duplicate").Inc()
	}
}
