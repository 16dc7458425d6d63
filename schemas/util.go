package schemas

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// truncate shortens s to at most n bytes (on a rune boundary) for use in a
// rejection detail, so that a hostile payload cannot blow up logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// scanner reads one JSON text (RFC 8259) from a byte slice in a single pass,
// strictly: member names are compared exactly (no case folding), strings
// with escapes are decoded, numbers are checked against the JSON grammar,
// and anything after the top-level value but whitespace is an error. It does
// not allocate except for strings that contain escapes. The payload must
// already be valid UTF-8 (Decode checks that first). Errors are
// *RejectError with ReasonBadJSON (ReasonBadUTF8 for a lone UTF-16
// surrogate escape) and the byte offset in the detail.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) errf(format string, args ...any) error {
	return Reject(ReasonBadJSON, fmt.Sprintf("offset %d: %s", s.pos, fmt.Sprintf(format, args...)))
}

// ws skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) ws() byte {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c
		}
	}
	return 0
}

// what names the next value's JSON type for an error message.
func (s *scanner) what() string {
	switch s.ws() {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case 0:
		return "end of input"
	}
	return "number"
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() error {
	if s.ws() != 0 {
		return s.errf("data after the JSON value")
	}
	return nil
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	if s.ws() == 'n' && bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		s.pos += 4
		return true
	}
	return false
}

// literal consumes true, false or null.
func (s *scanner) literal() ([]byte, error) {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
			s.pos += len(lit)
			return s.data[s.pos-len(lit) : s.pos], nil
		}
	}
	return nil, s.errf("invalid literal")
}

// open consumes the opening bracket c ('{' or '[').
func (s *scanner) open(c byte) error {
	if s.ws() != c {
		return s.errf("want %q, got %s", c, s.what())
	}
	s.pos++
	return nil
}

// member advances to the next member of an object opened with open('{'):
// it returns its (decoded) name with the ':' consumed, or ok false after
// the closing '}'. first is true for the first call on an object.
func (s *scanner) member(first bool) (name []byte, ok bool, err error) {
	c := s.ws()
	if c == '}' {
		if !first && s.data[s.pos-1] == ',' {
			return nil, false, s.errf("trailing comma")
		}
		s.pos++
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, s.errf("want ',' or '}'")
		}
		s.pos++
		c = s.ws()
	}
	if c != '"' {
		return nil, false, s.errf("want a member name")
	}
	if name, err = s.str(); err != nil {
		return nil, false, err
	}
	if s.ws() != ':' {
		return nil, false, s.errf("want ':'")
	}
	s.pos++
	return name, true, nil
}

// elem advances to the next element of an array opened with open('['), or
// returns false after the closing ']'.
func (s *scanner) elem(first bool) (bool, error) {
	c := s.ws()
	if c == ']' {
		if !first && s.data[s.pos-1] == ',' {
			return false, s.errf("trailing comma")
		}
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.errf("want ',' or ']'")
		}
		s.pos++
		if s.ws() == ']' {
			return false, s.errf("trailing comma")
		}
	}
	return true, nil
}

// str reads a string value and returns its decoded bytes. Without escapes
// the result aliases the input.
func (s *scanner) str() ([]byte, error) {
	if s.ws() != '"' {
		return nil, s.errf("want a string, got %s", s.what())
	}
	s.pos++
	start := s.pos
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '"':
			s.pos++
			return s.data[start : s.pos-1], nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return nil, s.errf("control character in string")
		default:
			s.pos++
		}
	}
	return nil, s.errf("unterminated string")
}

// strEscaped continues str from the first backslash.
func (s *scanner) strEscaped(start int) ([]byte, error) {
	out := append(make([]byte, 0, s.pos-start+16), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return out, nil
		case c < 0x20:
			return nil, s.errf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			break
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if bytes.HasPrefix(s.data[s.pos:], []byte(`\u`)) {
					s.pos += 2
					if r2, err = s.hex4(); err != nil {
						return nil, err
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, Reject(ReasonBadUTF8, fmt.Sprintf("offset %d: unpaired UTF-16 surrogate escape", s.pos))
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.errf("invalid escape")
		}
	}
	return nil, s.errf("unterminated string")
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		return 0, s.errf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 16)
	if err != nil {
		return 0, s.errf("invalid \\u escape")
	}
	s.pos += 4
	return rune(v), nil
}

// number reads a number and returns its text, checked against the JSON
// grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() ([]byte, error) {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		s.pos = i
		return nil, s.errf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			s.pos = i
			return nil, s.errf("invalid number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			return nil, s.errf("invalid number")
		}
	}
	s.pos = i
	return d[start:i], nil
}

// scalar reads a string, number, true, false or null and returns its text
// (a string with its quotes, undecoded). Objects and arrays are refused
// without being read: no field of the device formats nests beyond the
// formats' fixed shape, so nesting is never followed and any depth costs
// nothing.
func (s *scanner) scalar() ([]byte, error) {
	switch c := s.ws(); {
	case c == '"':
		begin := s.pos
		if _, err := s.str(); err != nil {
			return nil, err
		}
		return s.data[begin:s.pos], nil
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't' || c == 'f' || c == 'n':
		return s.literal()
	case c == 0:
		return nil, s.errf("unexpected end of input")
	case c == '{' || c == '[':
		return nil, s.errf("want a scalar, got %s", s.what())
	default:
		return nil, s.errf("invalid character %q", c)
	}
}
