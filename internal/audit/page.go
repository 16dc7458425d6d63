package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrBadPage is returned by Page for a limit below 1.
var ErrBadPage = errors.New("audit: bad page")

// Page returns up to limit entries with seq below before (0: from the
// newest), newest first, read from the file as far as it was appended
// when Page started. The chain is verified as it is read (as Verify does),
// so an entry edited since Open is an error matching ErrBroken naming the
// first broken line, never a page that looks intact.
func (l *Log) Page(before uint64, limit int) ([]Entry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: limit %d", ErrBadPage, limit)
	}
	l.mu.Lock()
	f, size := l.f, l.size
	l.mu.Unlock()
	if f == nil {
		return nil, ErrClosed
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	ring := make([]Entry, 0, limit)
	next := 0 // the oldest slot once ring is full
	prev := Head{Hash: GenesisHash}
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit: %s: read line %d: %w", l.path, lineNo, err)
		}
		e, err := check(line, prev)
		if err != nil {
			var b *BrokenError
			if errors.As(err, &b) {
				b.Line = lineNo
			}
			return nil, fmt.Errorf("audit: %s: %w", l.path, err)
		}
		prev = Head{Seq: e.Seq, Hash: e.Hash}
		if before != 0 && e.Seq >= before {
			break
		}
		if len(ring) < limit {
			ring = append(ring, e)
			continue
		}
		ring[next] = e
		next = (next + 1) % limit
	}
	out := make([]Entry, 0, len(ring))
	for i := len(ring) - 1; i >= 0; i-- {
		out = append(out, ring[(next+i)%len(ring)])
	}
	return out, nil
}
