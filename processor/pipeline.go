package processor

import (
	"context"
	"sync"
)

// pointBatch is the line protocol of one evaluated batch (or of one
// tick's alerts: from < 0) on its way to the point sink.
type pointBatch struct {
	from, last int64 // the batch's first and last offsets
	lines      []byte
	// odd and extra are what the landing needs if the sink does not take
	// lines (see landing).
	odd   map[int64]flags
	extra []byte
	// offer is false while earlier records wait in the landing: the
	// points are not offered, the batch joins the landing.
	offer  bool
	stored bool
	err    error
	done   chan struct{}
}

// pipeline overlaps the point writes of a partition with the evaluation of
// its next batches: one writer goroutine stores the batches in offset
// order, at most MaxInFlight of them are handed on and not yet retired.
type pipeline struct {
	queue    chan *pointBatch
	inflight []*pointBatch // in offset order
	free     [][]byte      // line buffers of retired batches
}

// startPipeline starts the point writer of the worker; the returned func
// stops it and waits for it.
func (w *worker) startPipeline(ctx context.Context) (stop func()) {
	w.pipe = pipeline{queue: make(chan *pointBatch, w.p.cfg.MaxInFlight)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for pb := range w.pipe.queue {
			w.storePoints(ctx, pb)
			close(pb.done)
		}
	})
	return func() {
		close(w.pipe.queue)
		wg.Wait()
	}
}

// storePoints offers pb's lines to the point sink once.
func (w *worker) storePoints(ctx context.Context, pb *pointBatch) {
	switch {
	case len(pb.lines) == 0:
		pb.stored = true
	case !pb.offer:
	default:
		if err := w.p.deps.Points.Write(ctx, pb.lines); err != nil {
			if ctx.Err() != nil {
				pb.err = &StepError{Step: "points", Topic: w.p.deps.Topics.Readings, Partition: w.partition, Offset: pb.last, Attempt: 1, Err: err}
				return
			}
			w.p.m.retries.WithLabelValues("points").Inc()
			w.logger.Warn("point sink did not take the batch; alerts and state go on, the points wait",
				"topic", w.p.deps.Topics.Readings, "partition", w.partition, "offset", pb.last, "err", err)
			return
		}
		pb.stored = true
	}
}

// newBatch returns an empty batch for the offsets [from, last].
func (p *pipeline) newBatch(from, last int64) *pointBatch {
	pb := &pointBatch{from: from, last: last, odd: map[int64]flags{}, done: make(chan struct{})}
	if n := len(p.free); n > 0 {
		pb.lines, p.free = p.free[n-1][:0], p.free[:n-1]
	}
	return pb
}

// firstInFlight is the first offset of the oldest batch not retired, or -1.
func (p *pipeline) firstInFlight() int64 {
	for _, pb := range p.inflight {
		if pb.from >= 0 {
			return pb.from
		}
	}
	return -1
}

// submit hands pb to the point writer, after retiring the oldest batch
// if MaxInFlight are in flight.
func (w *worker) submit(ctx context.Context, pb *pointBatch) error {
	pb.offer = !w.land.open()
	for len(w.pipe.inflight) >= w.p.cfg.MaxInFlight {
		if err := w.retireOldest(ctx); err != nil {
			return err
		}
	}
	w.pipe.inflight = append(w.pipe.inflight, pb)
	w.pipe.queue <- pb // never blocks: the queue holds MaxInFlight
	return nil
}

// drain waits for every batch in flight and retires it.
func (w *worker) drain(ctx context.Context) error {
	for len(w.pipe.inflight) > 0 {
		if err := w.retireOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// retireDone retires the batches in flight that are done, in order; with
// wait, every batch in flight.
func (w *worker) retireDone(ctx context.Context, wait bool) error {
	if wait {
		return w.drain(ctx)
	}
	for len(w.pipe.inflight) > 0 {
		select {
		case <-w.pipe.inflight[0].done:
		default:
			return nil
		}
		if err := w.retireOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// retireOldest waits for the oldest batch in flight to be offered. A batch
// the sink did not take, or any batch after one that joined the landing
// (the landing covers one range of offsets, stored in order), joins the
// landing; a tick's alert lines join its extra lines.
func (w *worker) retireOldest(ctx context.Context) error {
	pb := w.pipe.inflight[0]
	select {
	case <-pb.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.pipe.inflight = w.pipe.inflight[1:]
	if pb.err != nil {
		return pb.err
	}
	switch {
	case pb.from < 0:
		if !pb.stored {
			w.land.extra = append(w.land.extra, pb.lines...)
		}
	case !pb.stored || w.land.open():
		w.deferPoints(pb.from, pb.last, pb.odd, pb.extra)
	}
	if len(w.pipe.free) < w.p.cfg.MaxInFlight {
		w.pipe.free = append(w.pipe.free, pb.lines)
	}
	return nil
}
