package silence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
)

var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

func TestMuted(t *testing.T) {
	set := silence.NewSet()
	for _, s := range []silence.Silence{
		{ID: "s-station", Matchers: route.Matchers{"station": {"VG-AINGHIA"}}, Author: "lan", Comment: "gauge maintenance",
			Start: t0, End: t0.Add(2 * time.Hour)},
		{ID: "s-rule", Matchers: route.Matchers{"rule": {"offline"}, "district": {"Đại Lộc"}}, Author: "minh", Comment: "power cut",
			Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour)},
	} {
		if err := set.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		l    route.Labels
		at   time.Time
		want string
	}{
		{"station during", route.Labels{"station": "VG-AINGHIA", "rule": "level:water_level"}, t0.Add(time.Minute), "s-station"},
		{"station at start", route.Labels{"station": "VG-AINGHIA"}, t0, "s-station"},
		{"station at end", route.Labels{"station": "VG-AINGHIA"}, t0.Add(2 * time.Hour), ""},
		{"station before", route.Labels{"station": "VG-AINGHIA"}, t0.Add(-time.Second), ""},
		{"other station", route.Labels{"station": "TB-NONGSON"}, t0.Add(time.Minute), ""},
		{"rule and district", route.Labels{"station": "X", "rule": "offline", "district": "Đại Lộc"}, t0.Add(90 * time.Minute), "s-rule"},
		{"rule, other district", route.Labels{"station": "X", "rule": "offline", "district": "Hòa Vang"}, t0.Add(90 * time.Minute), ""},
		{"both: first by id", route.Labels{"station": "VG-AINGHIA", "rule": "offline", "district": "Đại Lộc"}, t0.Add(90 * time.Minute), "s-rule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, ok := set.Muted(c.l, c.at)
			if id != c.want || ok != (c.want != "") {
				t.Errorf("Muted = %q, %v; want %q", id, ok, c.want)
			}
		})
	}
	if err := set.Expire("s-station", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if id, ok := set.Muted(route.Labels{"station": "VG-AINGHIA"}, t0.Add(2*time.Minute)); ok {
		t.Errorf("expired silence %s still mutes", id)
	}
	if err := set.Expire("nope", t0); !errors.Is(err, silence.ErrNotFound) {
		t.Errorf("Expire(unknown) = %v, want ErrNotFound", err)
	}
	if n := set.GC(t0.Add(2 * time.Hour)); n != 1 || len(set.List()) != 1 {
		t.Errorf("GC dropped %d, %d left; want 1, 1", n, len(set.List()))
	}
}

func TestValidate(t *testing.T) {
	ok := silence.Silence{ID: "a", Matchers: route.Matchers{"station": {"A"}}, Author: "x", Comment: "y", Start: t0, End: t0.Add(time.Hour)}
	cases := []struct {
		name string
		edit func(*silence.Silence)
		want string
	}{
		{"valid", func(*silence.Silence) {}, ""},
		{"no matchers", func(s *silence.Silence) { s.Matchers = nil }, "matchers: at least one matcher is required"},
		{"unknown label", func(s *silence.Silence) { s.Matchers = route.Matchers{"colour": {"red"}} }, `matchers: "colour" is not a label`},
		{"empty values", func(s *silence.Silence) { s.Matchers = route.Matchers{"rule": nil} }, "matchers.rule: at least one value"},
		{"no author", func(s *silence.Silence) { s.Author = "" }, "author: required"},
		{"no comment", func(s *silence.Silence) { s.Comment = "" }, "comment: required"},
		{"end before start", func(s *silence.Silence) { s.End = s.Start }, "end: 2026-10-28T03:00:00Z must be after start"},
		{"no id", func(s *silence.Silence) { s.ID = "" }, "id: required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			err := silence.NewSet().Add(s)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Add = %v", err)
				}
				return
			}
			if !errors.Is(err, silence.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Add = %v, want ErrInvalid with %q", err, c.want)
			}
		})
	}
}
