package rules

import (
	"math"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// TestEveryKindHasAnEvaluator: every kind of the rules file model (and
// every quality check) has a compile function, so a kind added to
// schemas/rulespec without its evaluator fails here, not in production.
func TestEveryKindHasAnEvaluator(t *testing.T) {
	for _, k := range rulespec.Kinds() {
		if kinds[k] == nil {
			t.Errorf("kind %s has no evaluator", k)
		}
	}
	if len(kinds) != len(rulespec.Kinds()) {
		t.Errorf("%d evaluators for %d kinds", len(kinds), len(rulespec.Kinds()))
	}
	for _, c := range []string{CheckStuck, CheckSpike} {
		if qualityChecks[c] == nil {
			t.Errorf("quality check %s has no evaluator", c)
		}
	}
}

// TestSamplerValues: the value each sensor-driven kind watches at a sample.
func TestSamplerValues(t *testing.T) {
	min := int64(time.Minute)
	h := []sample{
		{TS: 0, Seq: 1, V: 1.0, Run: 1},
		{TS: 10 * min, Seq: 2, V: 1.2, Run: 1, Q: int8(QualitySuspect)},
		{TS: 20 * min, Seq: 3, V: 1.2, Run: 2},
		{TS: 30 * min, Seq: 4, V: 1.5, Run: 1},
	}
	hour := int64(time.Hour)
	tests := []struct {
		name    string
		s       sampler
		j, skip int
		want    float64
		nref    int
		ok      bool
	}{
		{"level is the reading", levelRule{}, 3, -1, 1.5, 1, true},
		{"rate from the oldest good reading in the window", &rateRule{window: hour, minSpan: 15 * min}, 3, -1, 1.0, 2, true},
		{"rate skips suspect and skipped readings", &rateRule{window: hour, minSpan: 5 * min}, 3, 0, 0.3 / (10.0 / 60), 2, true},
		{"rate needs min_span", &rateRule{window: hour, minSpan: 31 * min}, 3, -1, 0, 0, false},
		{"rate absolute", &rateRule{window: hour, minSpan: 15 * min, absolute: true}, 2, 3, 0.2 / (20.0 / 60), 2, true},
		{"stuck is the run", &stuckRule{count: 2}, 2, -1, 2, 1, true},
		{"spike is the jump from the previous reading", &spikeRule{maxJump: 1}, 3, -1, 0.3, 2, true},
		{"spike skips the skipped reading", &spikeRule{maxJump: 1}, 3, 2, 0.3, 2, true},
		{"spike needs a previous reading", &spikeRule{maxJump: 1}, 0, -1, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &State{}
			v, refs, nref, ok := tc.s.value(st, &rainSums{}, h, tc.j, tc.skip)
			if ok != tc.ok || nref != tc.nref || math.Abs(v-tc.want) > 1e-9 {
				t.Fatalf("value = %g, %d refs, %v; want %g, %d, %v", v, nref, ok, tc.want, tc.nref, tc.ok)
			}
			if ok && refs[nref-1].Seq != h[tc.j].Seq {
				t.Errorf("last reading ref %+v, want seq %d", refs[nref-1], h[tc.j].Seq)
			}
		})
	}
}

// TestCheckers: when the quality checks flag a reading suspect.
func TestCheckers(t *testing.T) {
	h := []sample{{V: 1, Run: 1}, {V: 1, Run: 2}, {V: 1, Run: 3}, {V: 3, Run: 1}}
	tests := []struct {
		name string
		c    checker
		want []bool
	}{
		{"stuck at 3", &stuckRule{count: 3}, []bool{false, false, true, false}},
		{"spike of 2", &spikeRule{maxJump: 2}, []bool{false, false, false, true}},
		{"spike of 2.5", &spikeRule{maxJump: 2.5}, []bool{false, false, false, false}},
	}
	for _, tc := range tests {
		for j, want := range tc.want {
			if got := tc.c.suspect(h, j); got != want {
				t.Errorf("%s: sample %d suspect %v, want %v", tc.name, j, got, want)
			}
		}
	}
}

// TestCompileRoles: compiling gives each kind its role on a station.
func TestCompileRoles(t *testing.T) {
	e := mustEngine(t, nil)
	sr := e.cur.Load().station("VG-AINGHIA")
	roles := map[string]string{}
	for sensor, rs := range sr.bySensor {
		for _, r := range rs {
			roles[r.name] = "sampler:" + string(sensor)
		}
	}
	for _, d := range sr.composites {
		roles[d.name] = "deriver"
	}
	if sr.offline != nil {
		roles[sr.offline.name] = "timer"
	}
	want := map[string]string{
		"level:water_level": "sampler:water_level", "rate:water_level": "sampler:water_level",
		"accum:rainfall:12h": "sampler:rainfall", "quality:stuck:water_level": "sampler:water_level",
		"quality:spike:water_level": "sampler:water_level", "composite:rain-and-rise": "deriver", "offline": "timer",
	}
	for name, role := range want {
		if roles[name] != role {
			t.Errorf("%s: role %q, want %q", name, roles[name], role)
		}
	}
	if _, ok := roles["basin:rain-and-rise"]; ok {
		t.Error("a basin rule was compiled for a station")
	}
	if n := len(sr.quality[schemas.WaterLevel]); n != 2 {
		t.Errorf("%d quality checks on water_level, want 2", n)
	}
	if sr.keep != int64(time.Hour) || sr.ringLen == 0 {
		t.Errorf("keep %d, ring %d", sr.keep, sr.ringLen)
	}
}
