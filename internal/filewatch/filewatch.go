package filewatch

import (
	"context"
	"os"
	"time"
)

// DefaultInterval is the poll interval when none is given.
const DefaultInterval = 5 * time.Second

// Stamp identifies a version of a file: its modification time and size.
type Stamp struct {
	Mod  time.Time
	Size int64
}

// Of returns path's stamp.
func Of(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	return Stamp{fi.ModTime(), fi.Size()}, nil
}

// Poll checks path every interval (DefaultInterval if <= 0) until ctx ends,
// starting from last, the stamp of the version in force. It calls changed
// once per new version that held still for one poll, and unreadable when
// the file cannot be stat'ed (once, until it can again). It returns nil
// when ctx ends.
func Poll(ctx context.Context, path string, interval time.Duration, last Stamp, changed func(), unreadable func(error)) error {
	if interval <= 0 {
		interval = DefaultInterval
	}
	pending := last
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := Of(path)
		if err != nil {
			if last != (Stamp{}) {
				unreadable(err)
				last = Stamp{}
			}
			continue
		}
		if cur == last {
			continue
		}
		if cur != pending {
			pending = cur // changed since the previous poll: wait until it holds still
			continue
		}
		last = cur
		changed()
	}
}
