package processor

import (
	"context"
	"sync"

	"github.com/resilience-project/resilience/schemas"
)

// alertLane produces a partition's alert events the moment their record
// is evaluated, in offset order, on a goroutine of its own: the evaluation
// does not wait for it (it used to end the batch at every alert and
// produce synchronously, so an alert storm, one alert per ten readings,
// cut batches to ten records and the drain to a tenth), the point writes
// do not wait for it, and it waits for neither. Events raised while a
// produce is in flight go out together in the next one.
//
// A snapshot is written only once the lane has produced every event of the
// records it covers (settle: oldest), so the changelog never holds an
// alert that is not in `alerts`.
type alertLane struct {
	mu    sync.Mutex
	queue []laneJob // raised, not taken yet
	// busy is the offset of the oldest record whose events are raised
	// and not produced (taken or queued); -1 when none.
	busy int64
	// progress is closed (and replaced) whenever a produce ends.
	progress chan struct{}
	wake     chan struct{}
	err      error // why the lane stopped (ctx ended, or the generation)
}

type laneJob struct {
	events []schemas.AlertEvent
	offset int64
}

// startAlertLane starts the worker's alert lane; the returned func stops
// it (what is queued is dropped: the next owner replays it from the
// commit, which is never past it) and waits for it.
func (w *worker) startAlertLane(ctx context.Context) (stop func()) {
	w.lane = &alertLane{busy: -1, progress: make(chan struct{}), wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.runLane(ctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// raise queues the events of the record at offset.
func (l *alertLane) raise(events []schemas.AlertEvent, offset int64) {
	l.mu.Lock()
	l.queue = append(l.queue, laneJob{events, offset})
	if l.busy < 0 {
		l.busy = offset
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// oldest is the offset of the oldest record whose events are not
// produced yet, or -1.
func (l *alertLane) oldest() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.busy
}

// failed is why the lane stopped, or nil while it runs.
func (l *alertLane) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// wait returns once every event raised is produced, or with the lane's
// error or ctx's.
func (l *alertLane) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		busy, err, progress := l.busy, l.err, l.progress
		l.mu.Unlock()
		switch {
		case err != nil:
			return err
		case busy < 0:
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runLane produces what is raised until ctx ends or a produce fails for
// good (ctx, or the generation ended: see retry).
func (w *worker) runLane(ctx context.Context) {
	l := w.lane
	var events []schemas.AlertEvent
	for {
		select {
		case <-l.wake:
		case <-ctx.Done():
			l.finish(ctx.Err())
			return
		}
		l.mu.Lock()
		jobs := l.queue
		l.queue = nil
		l.mu.Unlock()
		if len(jobs) == 0 {
			continue
		}
		events = events[:0]
		for _, j := range jobs {
			events = append(events, j.events...)
		}
		if err := w.emit(ctx, events, jobs[len(jobs)-1].offset); err != nil {
			l.finish(err)
			return
		}
		l.mu.Lock()
		l.busy = -1
		if len(l.queue) > 0 {
			l.busy = l.queue[0].offset
		}
		close(l.progress)
		l.progress = make(chan struct{})
		l.mu.Unlock()
	}
}

// finish records why the lane stopped and wakes its waiters.
func (l *alertLane) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
	close(l.progress)
	l.progress = make(chan struct{})
}
