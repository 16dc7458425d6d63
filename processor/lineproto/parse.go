package lineproto

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSyntax is wrapped by every error of ParseLine.
var ErrSyntax = errors.New("lineproto: syntax error")

// FieldKind is the type of a field value.
type FieldKind uint8

// Field kinds, as line protocol spells them: 1.5, 3i, 3u, true, "s".
const (
	FieldFloat FieldKind = iota + 1
	FieldInt
	FieldUint
	FieldBool
	FieldString
)

// Tag is one tag of a point, unescaped.
type Tag struct{ Key, Value string }

// Field is one field of a point; the member that Kind names holds the value.
type Field struct {
	Key   string
	Kind  FieldKind
	Float float64
	Int   int64
	Uint  uint64
	Bool  bool
	Str   string
}

// Point is one parsed line.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	// Time is the timestamp as written, in the precision of the writer
	// (milliseconds for everything this package appends); HasTime is false
	// when the line has none.
	Time    int64
	HasTime bool
}

// Tag returns the value of tag k ("" if absent).
func (p *Point) Tag(k string) string {
	for _, t := range p.Tags {
		if t.Key == k {
			return t.Value
		}
	}
	return ""
}

// Field returns field k and whether the point has it.
func (p *Point) Field(k string) (Field, bool) {
	for _, f := range p.Fields {
		if f.Key == k {
			return f, true
		}
	}
	return Field{}, false
}

// ParseLine parses one line of InfluxDB line protocol (without the
// newline), with the escaping rules InfluxDB 2 applies and this package
// writes: in the measurement a backslash escapes a comma or a space, in tag
// keys, tag values and field keys it escapes a comma, an equals sign or a
// space, and elsewhere it stands for itself; in a string field it escapes a
// double quote or a backslash. Errors wrap ErrSyntax and give the column.
//
// It is the inverse of AppendReading, AppendAlert and AppendNotice: every
// line they append parses back to the tags, fields and timestamp they were
// given.
func ParseLine(line []byte) (Point, error) {
	s := scanner{b: line}
	var p Point
	var err error
	if p.Measurement, err = s.name(measEscapes, ", "); err != nil {
		return p, err
	}
	if p.Measurement == "" {
		return p, s.fail("empty measurement")
	}
	for s.more() && s.peek() == ',' {
		s.i++
		var t Tag
		if t.Key, err = s.name(tagEscapes, "="); err != nil {
			return p, err
		}
		if !s.eat('=') {
			return p, s.fail("tag %q without '='", t.Key)
		}
		if t.Value, err = s.name(tagEscapes, ", "); err != nil {
			return p, err
		}
		if t.Key == "" || t.Value == "" {
			return p, s.fail("empty tag key or value")
		}
		p.Tags = append(p.Tags, t)
	}
	if !s.eat(' ') {
		return p, s.fail("want a space before the fields")
	}
	for {
		var f Field
		if f.Key, err = s.name(tagEscapes, "="); err != nil {
			return p, err
		}
		if f.Key == "" || !s.eat('=') {
			return p, s.fail("want field key=value")
		}
		if err := s.value(&f); err != nil {
			return p, err
		}
		p.Fields = append(p.Fields, f)
		if !s.eat(',') {
			break
		}
	}
	if !s.more() {
		return p, nil
	}
	if !s.eat(' ') {
		return p, s.fail("want a space before the timestamp")
	}
	ts, err := strconv.ParseInt(string(s.b[s.i:]), 10, 64)
	if err != nil {
		return p, s.fail("timestamp: %v", err)
	}
	p.Time, p.HasTime = ts, true
	return p, nil
}

// Bytes a backslash escapes, by part of the line.
const (
	measEscapes = ", "
	tagEscapes  = ",= "
)

type scanner struct {
	b []byte
	i int
}

func (s *scanner) more() bool { return s.i < len(s.b) }
func (s *scanner) peek() byte { return s.b[s.i] }

func (s *scanner) eat(c byte) bool {
	if s.more() && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) fail(format string, args ...any) error {
	return fmt.Errorf("%w at column %d: %s", ErrSyntax, s.i+1, fmt.Sprintf(format, args...))
}

func isIn(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// name reads up to the first unescaped byte of stop, unescaping the bytes
// of escapes that follow a backslash.
func (s *scanner) name(escapes, stop string) (string, error) {
	var out []byte
	start := s.i
	plain := true
	for s.more() {
		c := s.b[s.i]
		if c == '\\' && s.i+1 < len(s.b) && isIn(s.b[s.i+1], escapes) {
			if plain {
				out = append(out, s.b[start:s.i]...)
				plain = false
			}
			out = append(out, s.b[s.i+1])
			s.i += 2
			continue
		}
		if isIn(c, stop) {
			break
		}
		if c == '\n' {
			return "", s.fail("newline inside a line")
		}
		if !plain {
			out = append(out, c)
		}
		s.i++
	}
	if plain {
		return string(s.b[start:s.i]), nil
	}
	return string(out), nil
}

// value reads one field value.
func (s *scanner) value(f *Field) error {
	if !s.more() {
		return s.fail("field %s: missing value", f.Key)
	}
	if s.peek() == '"' {
		return s.str(f)
	}
	start := s.i
	for s.more() && s.peek() != ',' && s.peek() != ' ' {
		s.i++
	}
	raw := string(s.b[start:s.i])
	var err error
	switch {
	case raw == "":
		return s.fail("field %s: missing value", f.Key)
	case raw == "t" || raw == "T" || raw == "true" || raw == "True" || raw == "TRUE":
		f.Kind, f.Bool = FieldBool, true
	case raw == "f" || raw == "F" || raw == "false" || raw == "False" || raw == "FALSE":
		f.Kind = FieldBool
	case raw[len(raw)-1] == 'i':
		f.Kind = FieldInt
		f.Int, err = strconv.ParseInt(raw[:len(raw)-1], 10, 64)
	case raw[len(raw)-1] == 'u':
		f.Kind = FieldUint
		f.Uint, err = strconv.ParseUint(raw[:len(raw)-1], 10, 64)
	default:
		f.Kind = FieldFloat
		f.Float, err = strconv.ParseFloat(raw, 64)
	}
	if err != nil {
		return s.fail("field %s: %v", f.Key, err)
	}
	return nil
}

// str reads a double-quoted string field.
func (s *scanner) str(f *Field) error {
	s.i++ // opening quote
	var out []byte
	for s.more() {
		c := s.b[s.i]
		switch {
		case c == '\\' && s.i+1 < len(s.b) && (s.b[s.i+1] == '"' || s.b[s.i+1] == '\\'):
			out = append(out, s.b[s.i+1])
			s.i += 2
		case c == '"':
			s.i++
			f.Kind, f.Str = FieldString, string(out)
			return nil
		default:
			out = append(out, c)
			s.i++
		}
	}
	return s.fail("field %s: unterminated string", f.Key)
}
