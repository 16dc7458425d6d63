package schemas_test

import (
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// TestAlertIDGolden pins the alert and event ids. The alerts topic is
// replayed by the alerts service and deduplicated by these ids, so a change
// in how they are derived would make every replayed alert look new: it is a
// wire-contract change (a new schemas.AlertEventVersion), never a refactor.
// The values were computed independently (sha256 of
// "station\x00rule\x00start-unix-ns", first 8 bytes in hex).
func TestAlertIDGolden(t *testing.T) {
	start := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"alert id", schemas.AlertID("VG-AINGHIA", "level:water_level", start), "VG-AINGHIA-e07342b914f56ef3"},
		{"a nanosecond later is another alert", schemas.AlertID("VG-AINGHIA", "level:water_level", start.Add(time.Nanosecond)), "VG-AINGHIA-3f8d8dcfa5db6450"},
		{"zone does not matter", schemas.AlertID("VG-AINGHIA", "level:water_level", start.In(time.FixedZone("ICT", 7*3600))), "VG-AINGHIA-e07342b914f56ef3"},
		{"basin alert", schemas.AlertID("basin:vu-gia-thu-bon", "composite:x", time.Unix(0, 0)), "basin:vu-gia-thu-bon-1188c6a039118f79"},
		{"event id", schemas.EventID("VG-AINGHIA-e07342b914f56ef3", schemas.AlertFired, 3, start.Add(time.Minute)),
			"VG-AINGHIA-e07342b914f56ef3:fired:3:1793156460000000000"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}
