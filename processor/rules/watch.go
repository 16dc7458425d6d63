package rules

import (
	"context"
	"log/slog"
	"time"

	"github.com/resilience-project/resilience/internal/filewatch"
)

// Watcher hot-reloads a rules file into an Engine by polling its
// modification time and size (no fsnotify: works on every filesystem and
// in containers with mounted config maps).
//
// A change is loaded once the file's stamp has held still for one poll;
// writers should still replace the file atomically (write, then rename).
//
// Contract: a file that fails to load or validate keeps the rules in
// force and is logged once per change with the reason (every key that is
// wrong); a file that loads is swapped in atomically with SetRules.
type Watcher struct {
	Path   string
	Engine *Engine
	// Interval between polls; default 5s.
	Interval time.Duration
	Logger   *slog.Logger
	// OnReload, if set, is called after every reload attempt with its error
	// (nil on success), e.g. to count reloads in a metric.
	OnReload func(error)

	primed bool
	last   filewatch.Stamp
}

// Prime records the file as it is now as the one whose rules are in force.
// Call it right after loading the rules, before starting Run in a
// goroutine, so that a change made in between is not missed; Run primes
// itself if it was not.
func (w *Watcher) Prime() {
	w.last, _ = filewatch.Of(w.Path)
	w.primed = true
}

// Watch runs a Watcher with the default interval until ctx ends.
func Watch(ctx context.Context, path string, e *Engine, logger *slog.Logger) error {
	w := &Watcher{Path: path, Engine: e, Logger: logger}
	return w.Run(ctx)
}

// Run polls until ctx is done and returns nil then. The rules in force when
// Run starts are assumed to come from the file as it is now.
func (w *Watcher) Run(ctx context.Context) error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !w.primed {
		w.Prime()
	}
	return filewatch.Poll(ctx, w.Path, w.Interval, w.last, func() {
		err := w.reload()
		if w.OnReload != nil {
			w.OnReload(err)
		}
	}, func(err error) {
		log.Warn("rules file unreadable; keeping current rules", "path", w.Path, "err", err)
	})
}

func (w *Watcher) reload() error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set, err := LoadRuleSet(w.Path)
	if err == nil {
		err = w.Engine.SetRules(set)
	}
	if err != nil {
		log.Error("rules reload failed; keeping current rules", "path", w.Path, "err", err)
		return err
	}
	log.Info("rules reloaded", "path", w.Path, "rules", len(set.Rules))
	return nil
}
