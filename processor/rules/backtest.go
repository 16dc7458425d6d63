package rules

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Backtest input formats.
//
// CSV: one measurement per row, `ts,station,sensor,value[,seq]`. ts is RFC
// 3339 or epoch milliseconds; value is in the sensor's canonical unit
// (schemas.Specs); seq is optional (default: ts in epoch ms, which turns
// off seq-gap notices). A first row starting with `ts` is a header;
// blank lines and lines starting with # are skipped. Consecutive rows of
// one station with the same ts and seq form one record.
//
// InfluxDB line protocol: `MEASUREMENT,station=ID[,tag=v...]
// SENSOR=VALUE[,SENSOR=VALUE...][,seq=N] TIMESTAMP`, timestamp in
// nanoseconds (the measurement name and other tags are ignored), e.g.
//
//	reading,station=VG-AINGHIA water_level=8.12,rainfall=4.5,seq=17i 1697248800000000000
//
// Both readers check values against the sensor bounds and return errors
// that name the line and wrap ErrBadInput.

// ReadCSV reads backtest records from CSV.
func ReadCSV(r io.Reader) ([]schemas.Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	var out []schemas.Record
	for line := 1; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return out, nil
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
		if len(out) == 0 && strings.EqualFold(strings.TrimSpace(row[0]), "ts") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: csv line %d: %s", ErrBadInput, line, fmt.Sprintf(format, args...))
		}
		if len(row) != 4 && len(row) != 5 {
			return nil, bad("want ts,station,sensor,value[,seq], got %d fields", len(row))
		}
		ts, err := parseBacktestTS(strings.TrimSpace(row[0]))
		if err != nil {
			return nil, bad("ts: %v", err)
		}
		station := strings.TrimSpace(row[1])
		if !schemas.ValidStationID(station) {
			return nil, bad("station %q is not a valid id", station)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(row[3]), 64)
		if err != nil {
			return nil, bad("value: %v", err)
		}
		m, err := measurement(schemas.Sensor(strings.TrimSpace(row[2])), v)
		if err != nil {
			return nil, bad("%v", err)
		}
		seq := uint64(ts.UnixMilli())
		if len(row) == 5 && strings.TrimSpace(row[4]) != "" {
			if seq, err = strconv.ParseUint(strings.TrimSpace(row[4]), 10, 64); err != nil {
				return nil, bad("seq: %v", err)
			}
		}
		if n := len(out); n > 0 && out[n-1].Station == station && out[n-1].TS.Equal(ts) && out[n-1].Seq == seq {
			out[n-1].Readings = append(out[n-1].Readings, m)
			continue
		}
		out = append(out, schemas.Record{V: schemas.RecordVersion, Station: station, Seq: seq, TS: ts, ReceivedAt: ts,
			Readings: []schemas.Measurement{m}, Format: "csv"})
	}
}

// ReadLineProtocol reads backtest records from InfluxDB line protocol.
func ReadLineProtocol(r io.Reader) ([]schemas.Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []schemas.Record
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line protocol line %d: %s", ErrBadInput, line, fmt.Sprintf(format, args...))
		}
		parts := strings.Fields(text)
		if len(parts) != 3 {
			return nil, bad("want `measurement,station=ID fields timestamp`")
		}
		var station string
		for _, tag := range strings.Split(parts[0], ",")[1:] {
			if k, v, ok := strings.Cut(tag, "="); ok && k == "station" {
				station = v
			}
		}
		if !schemas.ValidStationID(station) {
			return nil, bad("missing or invalid station tag")
		}
		ns, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return nil, bad("timestamp: %v", err)
		}
		ts := time.Unix(0, ns).UTC()
		rec := schemas.Record{V: schemas.RecordVersion, Station: station, Seq: uint64(ts.UnixMilli()), TS: ts, ReceivedAt: ts, Format: "line"}
		for _, f := range strings.Split(parts[1], ",") {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, bad("field %q", f)
			}
			if k == "seq" {
				if rec.Seq, err = strconv.ParseUint(strings.TrimSuffix(strings.TrimSuffix(v, "i"), "u"), 10, 64); err != nil {
					return nil, bad("seq: %v", err)
				}
				continue
			}
			x, err := strconv.ParseFloat(strings.TrimSuffix(v, "i"), 64)
			if err != nil {
				return nil, bad("field %s: %v", k, err)
			}
			m, err := measurement(schemas.Sensor(k), x)
			if err != nil {
				return nil, bad("%v", err)
			}
			rec.Readings = append(rec.Readings, m)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return out, nil
}

func measurement(s schemas.Sensor, v float64) (schemas.Measurement, error) {
	cv, err := schemas.Normalize(s, v, "")
	if err != nil {
		return schemas.Measurement{}, err
	}
	return schemas.Measurement{Sensor: s, Value: cv, Unit: schemas.Specs[s].Unit}, nil
}

func parseBacktestTS(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not RFC 3339 or epoch milliseconds: " + strconv.Quote(s))
	}
	return t.UTC(), nil
}

// BacktestOptions tune Backtest.
type BacktestOptions struct {
	// TargetRule and TargetLevel define the outcome lead times are measured
	// against: the first event of TargetRule at TargetLevel or above on the
	// station (default level:water_level, level 3 = BĐ III).
	TargetRule  string
	TargetLevel int
	// NoTick turns off offline evaluation. By default Tick runs before each
	// record with the clock at the newest timestamp seen in the input.
	NoTick bool
	// Progress, if set, is called with the records done so far and the
	// total, about every 1% (for a progress bar on long runs).
	Progress func(done, total int)
}

// Lead is how long before the target outcome an event warned.
type Lead struct {
	Event  schemas.AlertEvent
	Target time.Time
	Lead   time.Duration
}

// BacktestResult is what a backtest produced.
type BacktestResult struct {
	Events     []schemas.AlertEvent
	Leads      []Lead
	Notices    []Notice
	Records    int
	Late       int
	Duplicates int
	// States are the final states by station.
	States map[string]*State
}

// Backtest applies recs in the given (arrival) order to fresh states and
// returns every event, with lead times: for each fired or escalated event
// of another rule, or of the target rule below the target level, that came
// at or before the station's first target event, the time between them.
func Backtest(e *Engine, recs []schemas.Record, opt BacktestOptions) BacktestResult {
	if opt.TargetRule == "" {
		opt.TargetRule = "level:" + string(schemas.WaterLevel)
	}
	if opt.TargetLevel == 0 {
		opt.TargetLevel = 3
	}
	res := BacktestResult{States: map[string]*State{}}
	var clock time.Time
	for i := range recs {
		r := &recs[i]
		st := res.States[r.Station]
		if st == nil {
			st = e.NewState(r.Station)
			res.States[r.Station] = st
		}
		if r.TS.After(clock) {
			clock = r.TS
		}
		if !opt.NoTick {
			ids := make([]string, 0, len(res.States))
			for id := range res.States {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				res.Events = append(res.Events, e.Tick(res.States[id], clock)...)
			}
		}
		out := e.Apply(st, r)
		res.Records++
		if out.Late {
			res.Late++
		}
		if out.Duplicate {
			res.Duplicates++
		}
		res.Events = append(res.Events, out.Events...)
		res.Notices = append(res.Notices, out.Notices...)
		if opt.Progress != nil && (i+1)%max(1, len(recs)/100) == 0 {
			opt.Progress(i+1, len(recs))
		}
	}
	if opt.Progress != nil {
		opt.Progress(len(recs), len(recs))
	}
	target := map[string]time.Time{}
	for _, ev := range res.Events {
		if ev.Rule == opt.TargetRule && ev.Level >= opt.TargetLevel && (ev.Kind == schemas.AlertFired || ev.Kind == schemas.AlertEscalated) {
			if t, ok := target[ev.Station]; !ok || ev.At.Before(t) {
				target[ev.Station] = ev.At
			}
		}
	}
	for _, ev := range res.Events {
		t, ok := target[ev.Station]
		if !ok || (ev.Kind != schemas.AlertFired && ev.Kind != schemas.AlertEscalated) || ev.At.After(t) {
			continue
		}
		if ev.Rule == opt.TargetRule && ev.Level >= opt.TargetLevel {
			continue
		}
		res.Leads = append(res.Leads, Lead{Event: ev, Target: t, Lead: t.Sub(ev.At)})
	}
	return res
}
