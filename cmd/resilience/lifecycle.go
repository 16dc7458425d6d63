package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"
)

// stage orders the stop of the running parts: a stage is stopped (its
// context cancelled: a soft stop) and waited for before the next.
type stage int

// The stages, in stop order: the collector drains first (it stops taking
// MQTT messages and settles what it holds with Kafka), then the processor
// finishes its batch, then the alerts service, then the HTTP API (it
// answers until the parts it reports on are gone), then the point sinks
// (they drain while the processor still writes).
const (
	stageIngest stage = iota
	stageProcess
	stageAlerts
	stageHTTP
	stageSinks
	nStages
)

var stageNames = [nStages]string{"ingest", "processor", "alerts", "http", "sinks"}

// errPartEnded is returned when a part ends by itself, without an error,
// before the stack was asked to stop.
var errPartEnded = errors.New("stopped: a part ended without an error")

// lifecycle runs RunStack's parts and stops them in order: on the caller's
// ctx ending or the first part (or broker) failing, the stages stop one
// after the other (see stage), then what the parts write through closes
// (writers, sinks: newest first), then the embedded brokers the parts and
// writers talk to stop.
type lifecycle struct {
	outer  context.Context
	logger *slog.Logger
	// failed is cancelled by the first part or broker that ends by itself.
	failed context.Context
	fail   context.CancelCauseFunc

	stages  [nStages]stageRun
	closers []func()
	brokers errgroup.Group
	bctx    context.Context
	bcancel context.CancelFunc

	mu       sync.Mutex
	stopping bool
	err      error
	once     sync.Once
}

// stageRun is one stage's parts.
type stageRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newLifecycle(ctx context.Context, logger *slog.Logger) *lifecycle {
	l := &lifecycle{outer: ctx, logger: logger}
	l.failed, l.fail = context.WithCancelCause(ctx)
	base := context.WithoutCancel(ctx) // stages end only when shutdown says so
	for i := range l.stages {
		l.stages[i].ctx, l.stages[i].cancel = context.WithCancel(base)
	}
	l.bctx, l.bcancel = context.WithCancel(base)
	return l
}

// wiringCtx is the context of work done while wiring (topic setup): done
// when the caller's ctx ends or something already failed.
func (l *lifecycle) wiringCtx() context.Context { return l.failed }

// run starts part fn in stage s; name labels its errors.
func (l *lifecycle) run(s stage, name string, fn func(context.Context) error) {
	st := &l.stages[s]
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		err := fn(st.ctx)
		l.ended(name, err)
	}()
}

// ended records how a part ended; a part ending by itself before a stop
// (with or without an error) stops the stack.
func (l *lifecycle) ended(name string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping && err == nil {
		return
	}
	if err == nil {
		err = fmt.Errorf("%w (%s)", errPartEnded, name)
	} else {
		err = fmt.Errorf("%s: %w", name, err)
	}
	if l.err == nil {
		l.err = err
	}
	l.fail(err)
}

// runBroker runs an embedded broker until shutdown stops it, after every
// part. A broker that fails stops the stack.
func (l *lifecycle) runBroker(run func(context.Context) error) {
	l.brokers.Go(func() error {
		err := run(l.bctx)
		if err != nil && l.bctx.Err() == nil {
			l.logger.Error("embedded broker failed; stopping", "err", err)
			l.fail(err)
		}
		return err
	})
}

// closeAfterParts registers fn to run once every part has stopped.
func (l *lifecycle) closeAfterParts(fn func()) { l.closers = append(l.closers, fn) }

// wait blocks until the caller's ctx ends or a part fails, then shuts
// down and returns the first part's error, else the first broker's.
func (l *lifecycle) wait() error {
	<-l.failed.Done()
	return l.shutdown()
}

// shutdown stops the stages in order, each waited for before the next,
// closes what was registered (newest first), stops the brokers, and
// returns the first part's error, else the first broker's. Calls after
// the first return the same.
func (l *lifecycle) shutdown() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.stopping = true
		l.mu.Unlock()
		for i := range l.stages {
			l.logger.Debug("stopping", "stage", stageNames[i])
			l.stages[i].cancel()
			l.stages[i].wg.Wait()
		}
		for i := len(l.closers) - 1; i >= 0; i-- {
			l.closers[i]()
		}
		l.bcancel()
		berr := l.brokers.Wait()
		l.fail(nil)
		l.mu.Lock()
		if l.err == nil {
			l.err = berr
		}
		l.mu.Unlock()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
