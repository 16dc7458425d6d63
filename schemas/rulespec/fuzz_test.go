package rulespec

import "testing"

// FuzzParse: Parse never panics; whatever it accepts validates again and
// is complete (WithDefaults changes nothing); Decode+Validate agree with
// Parse; neither Validate nor WithDefaults changes what was decoded.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"rules:\n  - {kind: offline}\n",
		"allowed_lateness: 30m\nbucket: 5m\nrules:\n  - {kind: accumulation, sensor: rainfall, window: 1h, levels: [{threshold: 5}]}\n",
		"rules:\n  - {kind: level, sensor: soil_moisture, direction: below, levels: [{threshold: 30}, {threshold: 20}], overrides: {X1: {disabled: true}}}\n",
		"rules:\n  - {kind: rate, sensor: tilt, window: 1h, absolute: true, levels: [{threshold: 0.1}]}\n  - {kind: quality, check: spike, sensor: tilt, max_jump: 5}\n",
		"rules:\n  - {kind: offline}\n  - {name: b, kind: composite, scope: basin, op: or, of: [{rule: offline, min_stations: 2}]}\n",
		"rules:\n  - {kind: offline, k: .nan}\n",
		"rules: [{kind: quality, check: stuck, sensor: tilt, count: 2, max_jump: .nan, k: .inf}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse(data)
		raw, derr := Decode(data)
		if derr != nil {
			if err == nil {
				t.Fatal("Parse accepted what Decode refused")
			}
			return
		}
		before := dump(t, raw)
		verr := raw.Validate()
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate %v, Parse %v", verr, err)
		}
		d := raw.WithDefaults()
		if dump(t, raw) != before {
			t.Fatal("Validate or WithDefaults changed the decoded rule set")
		}
		if err != nil {
			return
		}
		if dump(t, d) != dump(t, rs) {
			t.Fatal("Parse is not Decode+WithDefaults")
		}
		if err := rs.Validate(); err != nil {
			t.Fatalf("accepted rules do not re-validate: %v", err)
		}
		if dump(t, rs.WithDefaults()) != dump(t, rs) {
			t.Fatal("WithDefaults is not idempotent")
		}
	})
}
