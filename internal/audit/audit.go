package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// GenesisHash is the prev_hash of the first entry (seq 1).
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one line of the log.
type Entry struct {
	Seq      uint64            `json:"seq"`
	At       time.Time         `json:"at"`
	Actor    string            `json:"actor"`
	Role     string            `json:"role"`
	Action   string            `json:"action"`
	Target   string            `json:"target"`
	Detail   map[string]string `json:"detail,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash,omitempty"`
}

// Record is what a caller appends; Log fills in seq, at and the hashes.
type Record struct {
	Actor  string
	Role   string
	Action string
	Target string
	Detail map[string]string
}

// Canonical is the encoding the hash covers: the entry as encoding/json
// writes it (fields in declaration order, detail keys sorted, at in
// RFC 3339 with nanoseconds) without the hash field.
func Canonical(e Entry) ([]byte, error) {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode seq %d: %w", e.Seq, err)
	}
	return b, nil
}

// HashOf is the hex SHA-256 of Canonical(e).
func HashOf(e Entry) (string, error) {
	b, err := Canonical(e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// seal sets e.Hash and returns the line to write (with its newline).
func seal(e Entry) (Entry, []byte, error) {
	h, err := HashOf(e)
	if err != nil {
		return e, nil, err
	}
	e.Hash = h
	line, err := json.Marshal(e)
	if err != nil {
		return e, nil, fmt.Errorf("audit: encode seq %d: %w", e.Seq, err)
	}
	return e, append(line, '\n'), nil
}

// ErrBroken is matched (errors.Is) by every *BrokenError: the log is not an
// intact chain.
var ErrBroken = errors.New("audit: chain broken")

// Reason says why an entry broke the chain.
type Reason string

// The reasons Verify and CheckHead report.
const (
	ReasonMalformed    Reason = "malformed: not an audit entry"
	ReasonNotCanonical Reason = "not canonical: the line was rewritten"
	ReasonTorn         Reason = "torn: last line has no newline"
	ReasonSeq          Reason = "seq out of order: an entry was deleted, inserted or moved"
	ReasonPrevHash     Reason = "prev_hash does not match the previous entry's hash: an entry before it was changed or removed"
	ReasonHash         Reason = "hash does not match the content: the entry was edited"
	ReasonTruncated    Reason = "truncated: the head names entries the log does not have"
	ReasonHeadMismatch Reason = "head hash does not match the entry it names: the log was rewritten"
	ReasonHeadLag      Reason = "the head lags the log by more than one entry: entries were appended without updating the head"
)

// BrokenError names the first entry that breaks the chain.
type BrokenError struct {
	Line   int    // 1-based line number (0 for a head check)
	Seq    uint64 // the seq expected at that line
	Reason Reason
	Detail string // what was found, when useful
}

func (e *BrokenError) Error() string {
	s := fmt.Sprintf("audit: line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrBroken) true.
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// Head is the seq and hash of the last entry; {0, GenesisHash} for an
// empty log.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// decodeLine parses one line (without its newline) and checks that it is
// canonical.
func decodeLine(line []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, errMalformed(err)
	}
	if dec.More() {
		return e, errMalformed(errors.New("data after the entry"))
	}
	again, err := json.Marshal(e)
	if err != nil {
		return e, errMalformed(err)
	}
	if !bytes.Equal(again, line) {
		return e, errNotCanonical
	}
	return e, nil
}

var errNotCanonical = errors.New("not canonical")

type malformedError struct{ err error }

func (m malformedError) Error() string { return m.err.Error() }

func errMalformed(err error) error { return malformedError{err} }
