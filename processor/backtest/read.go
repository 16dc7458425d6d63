package backtest

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/resilience-project/resilience/processor/lineproto"
	"github.com/resilience-project/resilience/schemas"
)

// ErrBadInput is wrapped by every reader error for malformed input.
var ErrBadInput = errors.New("bad backtest input")

// Precision is the unit of line-protocol timestamps.
type Precision time.Duration

// Precisions that `influx write --precision` knows.
const (
	Nanosecond  = Precision(time.Nanosecond)
	Microsecond = Precision(time.Microsecond)
	Millisecond = Precision(time.Millisecond)
	Second      = Precision(time.Second)
)

// ParsePrecision reads "ns", "us", "ms" or "s".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "ns":
		return Nanosecond, nil
	case "us":
		return Microsecond, nil
	case "ms":
		return Millisecond, nil
	case "s":
		return Second, nil
	}
	return 0, fmt.Errorf("precision %q: want ns, us, ms or s", s)
}

// ReadCSV reads records from CSV: one measurement per row,
// `ts,station,sensor,value[,seq]`. ts is RFC 3339 or epoch milliseconds;
// value is in the sensor's canonical unit (schemas.Specs); seq is optional
// (default: ts in epoch ms, which turns off seq-gap notices). A first row
// starting with `ts` is a header; blank lines and lines starting with # are
// skipped. Consecutive rows of one station with the same ts and seq form
// one record.
func ReadCSV(r io.Reader) ([]schemas.Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	var g grouper
	for line := 1; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return g.out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: csv: %v", ErrBadInput, err)
		}
		if l, _ := cr.FieldPos(0); l > 0 {
			line = l
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(g.out) == 0 && strings.EqualFold(strings.TrimSpace(row[0]), "ts") {
			continue
		}
		if err := g.csvRow(row); err != nil {
			return nil, fmt.Errorf("%w: csv line %d: %v", ErrBadInput, line, err)
		}
	}
}

func (g *grouper) csvRow(row []string) error {
	if len(row) != 4 && len(row) != 5 {
		return fmt.Errorf("want ts,station,sensor,value[,seq], got %d fields", len(row))
	}
	ts, err := parseTS(strings.TrimSpace(row[0]))
	if err != nil {
		return fmt.Errorf("ts: %v", err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(row[3]), 64)
	if err != nil {
		return fmt.Errorf("value: %v", err)
	}
	seq := uint64(ts.UnixMilli())
	if len(row) == 5 && strings.TrimSpace(row[4]) != "" {
		if seq, err = strconv.ParseUint(strings.TrimSpace(row[4]), 10, 64); err != nil {
			return fmt.Errorf("seq: %v", err)
		}
	}
	return g.add(strings.TrimSpace(row[1]), ts, seq, schemas.Sensor(strings.TrimSpace(row[2])), v, "csv")
}

// ReadLineProtocol reads the `reading` lines that processor/lineproto
// writes (lineproto.AppendReading), with timestamps in unit prec:
//
//	reading,basin=B,district=D,sensor=S,station=ID value=8.42,seq=1024i,quality=1i,late=false 1793155800000
//
// The lines of one record (same station, timestamp and seq, written one
// after another) become one record again. Lines of the other measurements
// (device, alert, notice), blank lines and # comments are skipped.
func ReadLineProtocol(r io.Reader, prec Precision) ([]schemas.Record, error) {
	if prec <= 0 {
		prec = Millisecond
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var g grouper
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if len(strings.TrimSpace(string(text))) == 0 || text[0] == '#' {
			continue
		}
		if err := g.lpLine(text, prec); err != nil {
			return nil, fmt.Errorf("%w: line protocol line %d: %v", ErrBadInput, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return g.out, nil
}

func (g *grouper) lpLine(text []byte, prec Precision) error {
	p, err := lineproto.ParseLine(text)
	if err != nil {
		return err
	}
	if p.Measurement != lineproto.MeasReading {
		return nil
	}
	if !p.HasTime {
		return errors.New("no timestamp")
	}
	v, ok := p.Field("value")
	if !ok || v.Kind != lineproto.FieldFloat {
		return errors.New("want a float field value")
	}
	seq, ok := p.Field("seq")
	if !ok || seq.Kind != lineproto.FieldInt {
		return errors.New("want an integer field seq")
	}
	ts := time.Unix(0, p.Time*int64(prec)).UTC()
	if p.Time != ts.UnixNano()/int64(prec) {
		return fmt.Errorf("timestamp %d overflows at precision %s", p.Time, time.Duration(prec))
	}
	return g.add(p.Tag("station"), ts, uint64(seq.Int), schemas.Sensor(p.Tag("sensor")), v.Float, "line")
}

// grouper builds records from one measurement at a time.
type grouper struct{ out []schemas.Record }

// add checks one measurement and appends it to the last record if that is
// of the same station, time and seq, else to a new record.
func (g *grouper) add(station string, ts time.Time, seq uint64, s schemas.Sensor, v float64, format string) error {
	if !schemas.ValidStationID(station) {
		return fmt.Errorf("station %q is not a valid id", station)
	}
	cv, err := schemas.Normalize(s, v, "")
	if err != nil {
		return err
	}
	m := schemas.Measurement{Sensor: s, Value: cv, Unit: schemas.Specs[s].Unit}
	if n := len(g.out); n > 0 && g.out[n-1].Station == station && g.out[n-1].TS.Equal(ts) && g.out[n-1].Seq == seq {
		g.out[n-1].Readings = append(g.out[n-1].Readings, m)
		return nil
	}
	g.out = append(g.out, schemas.Record{V: schemas.RecordVersion, Station: station, Seq: seq, TS: ts, ReceivedAt: ts,
		Readings: []schemas.Measurement{m}, Format: format})
	return nil
}

func parseTS(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not RFC 3339 or epoch milliseconds: " + strconv.Quote(s))
	}
	return t.UTC(), nil
}
