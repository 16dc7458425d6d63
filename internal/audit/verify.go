package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds one line of the log (Append refuses a larger entry,
// Verify reports one as malformed).
const MaxLine = 64 << 10

// Verify reads a whole log and checks the chain. It returns the head (the
// last entry's seq and hash) and nil when every line is intact, or the
// head of the intact prefix and the first *BrokenError. Other errors are
// read errors.
func Verify(r io.Reader) (Head, error) { return verify(r, nil) }

// verify is Verify calling seen (when not nil) with each intact entry's head.
func verify(r io.Reader, seen func(Head)) (Head, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := Head{Hash: GenesisHash}
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		want := head.Seq + 1
		switch {
		case errors.Is(err, io.EOF) && len(line) == 0:
			return head, nil
		case errors.Is(err, io.EOF):
			return head, &BrokenError{Line: lineNo, Seq: want, Reason: ReasonTorn}
		case errors.Is(err, errLongLine):
			return head, &BrokenError{Line: lineNo, Seq: want, Reason: ReasonMalformed, Detail: err.Error()}
		case err != nil:
			return head, fmt.Errorf("audit: read line %d: %w", lineNo, err)
		}
		e, err := check(line, head)
		if err != nil {
			var b *BrokenError
			if errors.As(err, &b) {
				b.Line = lineNo
			}
			return head, err
		}
		head = Head{Seq: e.Seq, Hash: e.Hash}
		if seen != nil {
			seen(head)
		}
	}
}

// check verifies one line (without its newline) against the head before it.
func check(line []byte, prev Head) (Entry, error) {
	want := prev.Seq + 1
	e, err := decodeLine(line)
	var m malformedError
	switch {
	case errors.As(err, &m):
		return e, &BrokenError{Seq: want, Reason: ReasonMalformed, Detail: m.Error()}
	case err != nil:
		return e, &BrokenError{Seq: want, Reason: ReasonNotCanonical}
	case e.Seq != want:
		return e, &BrokenError{Seq: want, Reason: ReasonSeq, Detail: fmt.Sprintf("found seq %d", e.Seq)}
	case e.PrevHash != prev.Hash:
		return e, &BrokenError{Seq: want, Reason: ReasonPrevHash}
	}
	h, err := HashOf(e)
	if err != nil {
		return e, &BrokenError{Seq: want, Reason: ReasonMalformed, Detail: err.Error()}
	}
	if h != e.Hash {
		return e, &BrokenError{Seq: want, Reason: ReasonHash}
	}
	return e, nil
}

var errLongLine = fmt.Errorf("line longer than %d bytes", MaxLine)

// readLine returns the next line without its newline; io.EOF with a
// non-empty line means the last line had no newline.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLine+1 {
			return nil, errLongLine
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// VerifyHead is Verify followed by a check against a head recorded
// independently (the head file, or a copy kept elsewhere): a log that ends
// before the head's seq was truncated (ReasonTruncated); the entry the head
// names must have the head's hash (ReasonHeadMismatch). Log replaces its
// head file after the entry is fsynced, so a crash between the two leaves
// the head one entry behind; that is accepted, more is not (ReasonHeadLag).
func VerifyHead(r io.Reader, want Head) (Head, error) {
	named := ""
	if want.Seq == 0 {
		named = GenesisHash
	}
	got, err := verify(r, func(h Head) {
		if h.Seq == want.Seq {
			named = h.Hash
		}
	})
	if err != nil {
		return got, err
	}
	switch {
	case want.Seq > got.Seq:
		return got, &BrokenError{Seq: got.Seq + 1, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("head seq %d, log ends at seq %d", want.Seq, got.Seq)}
	case named != want.Hash:
		return got, &BrokenError{Seq: want.Seq, Reason: ReasonHeadMismatch}
	case got.Seq-want.Seq > 1:
		return got, &BrokenError{Seq: want.Seq + 1, Reason: ReasonHeadLag,
			Detail: fmt.Sprintf("head seq %d, log ends at seq %d", want.Seq, got.Seq)}
	}
	return got, nil
}
