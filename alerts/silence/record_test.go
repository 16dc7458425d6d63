package silence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
)

func validSilence() silence.Silence {
	return silence.Silence{ID: "maint-1", Matchers: route.Matchers{"station": {"VG-AINGHIA"}}, Author: "lan",
		Comment: "gauge maintenance", Start: t0, End: t0.Add(2 * time.Hour)}
}

func TestRecordRoundTrip(t *testing.T) {
	r := silence.Record{Kind: silence.KindCreate, By: "lan", At: t0, Silence: validSilence()}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !silence.IsRecord(b) {
		t.Fatalf("IsRecord(%s) = false", b)
	}
	got, err := silence.DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != r.Kind || got.By != r.By || !got.At.Equal(r.At) || got.Silence.ID != r.Silence.ID ||
		!got.Silence.End.Equal(r.Silence.End) || got.Silence.Matchers["station"][0] != "VG-AINGHIA" || got.V != silence.RecordVersion {
		t.Errorf("round trip: %+v, want %+v", got, r)
	}
	if silence.Key("maint-1") != "silence:maint-1" {
		t.Errorf("Key = %q", silence.Key("maint-1"))
	}
}

func TestDecodeRecordRefuses(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"not json", `{`, "unexpected end"},
		{"version", `{"v":2,"record":"silence","kind":"create","by":"x","silence":{}}`, "v: 2, want 1"},
		{"type", `{"v":1,"record":"mute","kind":"create","by":"x"}`, `record: "mute"`},
		{"kind", `{"v":1,"record":"silence","kind":"extend","by":"x"}`, `kind: "extend" is not one of create, expire`},
		{"by", `{"v":1,"record":"silence","kind":"expire"}`, "by: required"},
		{"silence", `{"v":1,"record":"silence","kind":"create","by":"x","silence":{"id":"s","author":"x","comment":"c"}}`,
			"matchers: at least one matcher"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := silence.DecodeRecord([]byte(c.json))
			if !errors.Is(err, silence.ErrBadRecord) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("DecodeRecord = %v, want ErrBadRecord with %q", err, c.want)
			}
		})
	}
	// An operator action on the same topic is not a silence record.
	if silence.IsRecord([]byte(`{"v":1,"action_id":"a","alert_id":"x","kind":"ack","by":"lan"}`)) {
		t.Error("IsRecord(an alert action) = true")
	}
}

// TestFold: records folded in any order give the same set; an expiry is
// final (a create folded after it does not revive the silence).
func TestFold(t *testing.T) {
	s := validSilence()
	exp := s.Expired(t0.Add(30*time.Minute), "minh")
	pending := s
	pending.Start = t0.Add(time.Hour)
	cases := []struct {
		name    string
		records []silence.Silence
		changed []bool
		wantEnd time.Time
		wantBy  string
	}{
		{"create", []silence.Silence{s}, []bool{true}, s.End, ""},
		{"create twice", []silence.Silence{s, s}, []bool{true, false}, s.End, ""},
		{"create then expire", []silence.Silence{s, exp}, []bool{true, true}, exp.End, "minh"},
		{"expire then create (replicas raced)", []silence.Silence{exp, s}, []bool{true, false}, exp.End, "minh"},
		{"expire a pending one", []silence.Silence{pending, pending.Expired(t0, "minh")}, []bool{true, true}, t0, "minh"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := silence.NewSet()
			for i, r := range c.records {
				changed, err := set.Fold(r)
				if err != nil {
					t.Fatal(err)
				}
				if changed != c.changed[i] {
					t.Errorf("Fold #%d changed = %v, want %v", i, changed, c.changed[i])
				}
			}
			got, ok := set.Get(s.ID)
			if !ok || !got.End.Equal(c.wantEnd) || got.ExpiredBy != c.wantBy || !got.End.After(got.Start) {
				t.Errorf("folded %+v (found %v), want end %s by %q", got, ok, c.wantEnd, c.wantBy)
			}
		})
	}
	if _, err := silence.NewSet().Fold(silence.Silence{ID: "x"}); !errors.Is(err, silence.ErrInvalid) {
		t.Errorf("Fold(invalid) = %v, want ErrInvalid", err)
	}
}

// FuzzDecodeRecord: arbitrary bytes never panic, fail only with
// ErrBadRecord, and a record that decodes folds and re-encodes to one
// that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	b, _ := silence.Record{Kind: silence.KindCreate, By: "lan", At: t0, Silence: validSilence()}.Encode()
	f.Add(b)
	f.Add([]byte(`{"v":1,"record":"silence","kind":"expire","by":"x","silence":{"id":"s"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := silence.DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, silence.ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		if _, err := silence.NewSet().Fold(r.Silence); err != nil {
			t.Fatalf("a decoded record does not fold: %v", err)
		}
		b2, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := silence.DecodeRecord(b2)
		if err != nil || r2.Silence.ID != r.Silence.ID || r2.Kind != r.Kind {
			t.Fatalf("re-encoded record %s decodes to %+v, %v", b2, r2, err)
		}
	})
}
