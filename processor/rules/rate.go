package rules

import (
	"math"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// rateRule is a rate rule: the change per hour between the reading and
// the oldest good reading within window, at least minSpan apart.
type rateRule struct {
	window, minSpan int64
	absolute        bool
	// grades are the station's registry levels of the sensor (water
	// level, flood depth), the grades a rise heads for.
	grades []float64
}

func compileRate(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	b.hazard = true
	b.label = rulespec.WindowLabel(r.Window)
	rc.keepHistory(int64(r.Window))
	rc.addSampler(b, &rateRule{window: int64(r.Window), minSpan: int64(r.MinSpan), absolute: r.Absolute, grades: registryGrades(r.Sensor, st)})
}

// registryGrades are the registry levels I, II, III of sensor k at st.
func registryGrades(k schemas.Sensor, st *schemas.Station) []float64 {
	if st == nil {
		return nil
	}
	l := st.FloodDepthLevelsCM
	if k == schemas.WaterLevel {
		l = st.AlarmLevelsM
	} else if k != schemas.FloodDepth {
		return nil
	}
	if !l.Set() {
		return nil
	}
	return []float64{l.I, l.II, l.III}
}

// annotate sets, for a rise (not an absolute rate), the time until the
// reading reaches the station's next registry level at the rate.
func (k *rateRule) annotate(_ *State, _ *bound, ev *schemas.AlertEvent) {
	if k.absolute || ev.Kind == schemas.AlertDeescalated {
		return
	}
	v := lastRef(ev).Value
	for _, g := range k.grades {
		if g > v {
			ev.TimeToNext = timeTo(g, v, ev.Value)
			return
		}
	}
}

func (k *rateRule) value(st *State, _ *rainSums, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	s := h[j]
	// The oldest good reading within the window: binary search for the
	// window's start, then skip suspect readings forward.
	f := -1
	lo := after(h[:j], s.TS-k.window-1)
	for i := lo; i < j; i++ {
		st.steps++
		if h[i].Q != int8(QualitySuspect) && i != skip {
			f = i
			break
		}
	}
	if f < 0 || s.TS-h[f].TS < k.minSpan {
		return 0, [2]schemas.ReadingRef{ref(s)}, 0, false
	}
	r := (s.V - h[f].V) / (float64(s.TS-h[f].TS) / float64(time.Hour))
	if k.absolute {
		r = math.Abs(r)
	}
	return r, [2]schemas.ReadingRef{ref(h[f]), ref(s)}, 2, true
}

func (k *rateRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	return thresholdMessage(b, string(b.sensor)+" rate per hour over "+b.label, kind, lvl, name, v, thr)
}
