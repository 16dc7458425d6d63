package route

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/resilience-project/resilience/internal/filewatch"
)

// Watcher hot-reloads a routing file by polling its modification time and
// size, like the rules watcher: a change is loaded once the file held still
// for one poll; a file that fails to parse keeps the tree in force and is
// logged once per change with every bad key.
type Watcher struct {
	path     string
	interval time.Duration
	logger   *slog.Logger
	onReload func(error)
	cur      atomic.Pointer[Tree]
	last     filewatch.Stamp
}

// NewWatcher loads path (an error here is the caller's to report: there is
// no tree to keep yet) and returns a Watcher holding it. interval <= 0 means
// 5s; onReload, if set, is called after every reload attempt.
func NewWatcher(path string, interval time.Duration, logger *slog.Logger, onReload func(error)) (*Watcher, error) {
	if interval <= 0 {
		interval = filewatch.DefaultInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{path: path, interval: interval, logger: logger, onReload: onReload}
	w.last, _ = filewatch.Of(path)
	t, err := Load(path)
	if err != nil {
		return nil, err
	}
	w.cur.Store(t)
	return w, nil
}

// Current is the tree in force.
func (w *Watcher) Current() *Tree { return w.cur.Load() }

// Run polls until ctx is done and returns nil then.
func (w *Watcher) Run(ctx context.Context) error {
	return filewatch.Poll(ctx, w.path, w.interval, w.last, func() {
		tree, err := Load(w.path)
		if err == nil {
			w.cur.Store(tree)
			w.logger.Info("routing file reloaded", "path", w.path, "receivers", len(tree.names))
		} else {
			w.logger.Error("routing reload failed; keeping current routes", "path", w.path, "err", err)
		}
		if w.onReload != nil {
			w.onReload(err)
		}
	}, func(err error) {
		w.logger.Warn("routing file unreadable; keeping current routes", "path", w.path, "err", err)
	})
}
