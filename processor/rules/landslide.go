package rules

import (
	"fmt"
	"math"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// landslideRule is a landslide rule (see rulespec's landslide kind for the
// decision table), driven by the tilt readings: the tilt rate over window
// (as a rate rule, absolute), graded by rates; wet when the newest good
// soil moisture reading at or before the tilt reading is at least
// wetPct and the rain over rainWindow (the station's rainfall buckets up to
// the tilt reading's) is at least rainCenti. The soil moisture and rain
// are read at each tilt reading, so a late soil moisture or rain reading
// counts from the next tilt reading on.
type landslideRule struct {
	rate       rateRule
	rates      [2]float64
	wetPct     float64 // 0: the station has no saturation value
	rainWindow int64
	rainCenti  uint64
	points     int
}

func compileLandslide(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	b.hazard = true
	b.label = rulespec.WindowLabel(r.Window)
	k := &landslideRule{rate: rateRule{window: int64(r.Window), minSpan: int64(r.MinSpan), absolute: true},
		rates: [2]float64{r.TiltRates[0], r.TiltRates[1]}, rainWindow: int64(r.RainWindow),
		rainCenti: uint64(math.Round(r.RainMM * 100)), points: r.TTFPoints}
	if st != nil && st.SaturationPct > 0 {
		k.wetPct = r.SaturationFraction * st.SaturationPct
	}
	rc.keepHistory(int64(r.Window))
	rc.keepRain(k.rainWindow)
	rc.watchContext(schemas.SoilMoisture)
	rc.addSampler(b, k)
}

func (k *landslideRule) value(st *State, sums *rainSums, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	rate, refs, nref, ok := k.rate.value(st, sums, h, j, skip)
	if !ok {
		return 0, refs, nref, false
	}
	g := 0
	for _, r := range k.rates {
		if rate >= r {
			g++
		}
	}
	if k.wet(st, h[j].TS) {
		g++
	}
	return float64(min(g, rulespec.LandslideGrades)), refs, nref, true
}

// moisture is the newest good soil moisture reading at or before ts.
func moisture(st *State, ts int64) (float64, bool) {
	ss := st.sensorOf(schemas.SoilMoisture)
	if ss == nil {
		return 0, false
	}
	h := ss.Hist
	i, ok := at(h, ts)
	if !ok {
		i--
	}
	for ; i >= 0; i-- {
		st.steps++
		if h[i].Q != int8(QualitySuspect) {
			return h[i].V, true
		}
	}
	return 0, false
}

// rain is the station's rain (hundredths of a mm) in the window of
// buckets ending with ts's.
func (k *landslideRule) rain(st *State, ts int64) uint64 {
	if st.rain == nil {
		return 0
	}
	st.steps += uint64(k.rainWindow / st.rain.Bucket)
	return st.rain.sum(ts, k.rainWindow)
}

// wet: soil near saturation and the rain reached.
func (k *landslideRule) wet(st *State, ts int64) bool {
	if k.wetPct <= 0 {
		return false
	}
	m, ok := moisture(st, ts)
	return ok && m >= k.wetPct && k.rain(st, ts) >= k.rainCenti
}

func (k *landslideRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, _, _ float64) string {
	return gradeMessage(b, kind, lvl, name)
}

// gradeMessage is the message of a kind whose value is its grade (landslide,
// risk): the rule, the change and the grade reached; annotate adds the
// figures behind it.
func gradeMessage(b *bound, kind schemas.AlertKind, lvl int, name string) string {
	if lvl == 0 {
		return fmt.Sprintf("%s %s", b.name, kind)
	}
	return fmt.Sprintf("%s %s: %s", b.name, kind, name)
}

// annotate states the tilt rate, soil moisture and rain that made the
// level and, while the tilt accelerates, the estimated time to failure.
func (k *landslideRule) annotate(st *State, b *bound, ev *schemas.AlertEvent) {
	ss := st.sensorOf(b.sensor)
	if ss == nil {
		return
	}
	j, ok := at(ss.Hist, lastRef(ev).TS.UnixNano())
	if !ok {
		return
	}
	h, ts := ss.Hist, ss.Hist[j].TS
	rate, _, _, _ := k.rate.value(st, nil, h, j, -1)
	wet := "no saturation value"
	if k.wetPct > 0 {
		m, _ := moisture(st, ts)
		wet = fmt.Sprintf("soil moisture %.1f%% (near saturation from %.1f%%)", m, k.wetPct)
	}
	ev.Message += fmt.Sprintf(" (tilt %.3g deg/h over %s; %s; rain %.1f mm over %s)",
		rate, b.label, wet, float64(k.rain(st, ts))/100, rulespec.WindowLabel(time.Duration(k.rainWindow)))
	if ttf, ok := k.timeToFailure(st, h, j); ok {
		ev.TimeToFailure = ttf
		ev.Message += fmt.Sprintf("; estimated time to failure %s (inverse velocity, an estimate)", time.Duration(ttf*float64(time.Second)).Round(time.Minute))
	}
}

// minFit is the coefficient of determination the inverse-velocity line
// must reach for a time-to-failure estimate.
const minFit = 0.8

// timeToFailure is the inverse-velocity estimate (Fukuzono 1985) at
// sample j of the tilt history h: the tilt rate at each of the last
// points samples, 1/rate against time fitted by least squares; while 1/v
// falls (the tilt accelerates) with a good fit (R² >= minFit), the line's
// time intercept is the failure time. It returns the seconds from sample
// j to it.
func (k *landslideRule) timeToFailure(st *State, h []sample, j int) (float64, bool) {
	var ts, inv []float64
	for i := j; i >= 0 && len(ts) < k.points; i-- {
		if h[i].Q == int8(QualitySuspect) {
			continue
		}
		v, _, _, ok := k.rate.value(st, nil, h, i, -1)
		if !ok || !(v > 0) {
			break
		}
		ts = append(ts, float64(h[i].TS-h[j].TS)/float64(time.Second))
		inv = append(inv, 1/v)
	}
	if len(ts) < k.points {
		return 0, false
	}
	slope, icpt, r2 := fitLine(ts, inv)
	if !(slope < 0) || !(r2 >= minFit) {
		return 0, false
	}
	tf := -icpt / slope // seconds after sample j
	if !(tf > 0) || math.IsInf(tf, 0) {
		return 0, false
	}
	return tf, true
}

// fitLine is the least-squares line y = slope*x + icpt and its R².
func fitLine(x, y []float64) (slope, icpt, r2 float64) {
	n := float64(len(x))
	var sx, sy, sxx, sxy, syy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
		syy += y[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	icpt = (sy - slope*sx) / n
	vy := n*syy - sy*sy
	if vy <= 0 {
		return slope, icpt, 1 // y constant: a perfect (flat) fit
	}
	c := n*sxy - sx*sy
	return slope, icpt, c * c / (d * vy)
}
