package inhibit_test

import (
	"testing"

	"github.com/resilience-project/resilience/alerts/inhibit"
	"github.com/resilience-project/resilience/schemas"
)

func ev(id, station, rule string, level int, kind schemas.AlertKind, basin string) schemas.AlertEvent {
	return schemas.AlertEvent{ID: id, EventID: id + ":" + string(kind) + ":" + string(rune('0'+level)), Station: station,
		Rule: rule, Level: level, Kind: kind, Basin: basin}
}

func TestMuted(t *testing.T) {
	const vg = "vu-gia-thu-bon"
	flood2 := ev("A1", "VG-AINGHIA", "level:water_level", 2, schemas.AlertFired, vg)
	flood3 := ev("A1", "VG-AINGHIA", "level:water_level", 3, schemas.AlertEscalated, vg)
	offline := ev("O1", "VG-AINGHIA", "offline", 1, schemas.AlertFired, vg)
	otherOffline := ev("O2", "TB-NONGSON", "offline", 1, schemas.AlertFired, vg)
	basin := ev("B1", "BASIN-vu-gia-thu-bon", "basin:two-stations-bd2", 1, schemas.AlertFired, vg)
	otherBasin := ev("B2", "BASIN-han", "basin:x", 1, schemas.AlertFired, "han")
	rain := ev("R1", "VG-AINGHIA", "accum:rainfall:24h", 1, schemas.AlertFired, vg)
	cases := []struct {
		name   string
		target schemas.AlertEvent
		active []schemas.AlertEvent
		want   string
	}{
		{"nothing active", flood2, nil, ""},
		{"offline mutes the station's hazard", flood2, []schemas.AlertEvent{offline}, inhibit.StationOffline},
		{"offline of another station does not", flood2, []schemas.AlertEvent{otherOffline}, ""},
		{"offline does not mute itself", offline, []schemas.AlertEvent{offline}, ""},
		{"offline does not mute another offline", otherOffline, []schemas.AlertEvent{offline}, ""},
		{"higher level mutes its lower notice", flood2, []schemas.AlertEvent{flood3}, inhibit.HigherLevel},
		{"lower level does not mute higher", flood3, []schemas.AlertEvent{flood2}, ""},
		{"same station+rule, other alert id, higher", flood2, []schemas.AlertEvent{ev("A2", "VG-AINGHIA", "level:water_level", 3, schemas.AlertFired, vg)}, inhibit.HigherLevel},
		{"other rule at higher level does not", rain, []schemas.AlertEvent{flood3}, ""},
		{"basin mutes a member", rain, []schemas.AlertEvent{basin}, inhibit.Basin},
		{"other basin does not", rain, []schemas.AlertEvent{otherBasin}, ""},
		{"basin does not mute a basin", otherBasin, []schemas.AlertEvent{basin}, ""},
		{"resolved target never muted", ev("A1", "VG-AINGHIA", "level:water_level", 1, schemas.AlertResolved, vg), []schemas.AlertEvent{offline, flood3}, ""},
		{"deescalated target never muted", ev("A1", "VG-AINGHIA", "level:water_level", 1, schemas.AlertDeescalated, vg), []schemas.AlertEvent{flood3}, ""},
		{"resolved source mutes nothing", flood2, []schemas.AlertEvent{ev("O1", "VG-AINGHIA", "offline", 1, schemas.AlertResolved, vg)}, ""},
	}
	in := inhibit.New(inhibit.Defaults())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := in.Muted(c.target, c.active)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("Muted = %q, %v; want %q", got, ok, c.want)
			}
		})
	}
	if _, ok := inhibit.New(nil).Muted(flood2, []schemas.AlertEvent{offline}); ok {
		t.Error("no rules muted something")
	}
}
