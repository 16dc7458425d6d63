package cap_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/alerts/cap/captest"
	"github.com/resilience-project/resilience/schemas"
)

var station = &schemas.Station{
	ID: "VG-AINGHIA", Name: "Ái Nghĩa", River: "Vu Gia", Basin: "Vu Gia - Thu Bồn",
	District: "Đại Lộc", Lat: 15.8833, Lon: 108.1167,
}

func builder(t *testing.T) *cap.Builder {
	t.Helper()
	b, err := cap.NewBuilder(cap.Config{
		Sender: "pctt.danang.gov.vn", SenderNameVI: "Ban Chỉ huy PCTT TP Đà Nẵng",
		SenderNameEN: "Da Nang Disaster Prevention Command", IdentifierPrefix: "vn.danang.pctt.",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func event(sensor schemas.Sensor, kind schemas.AlertKind, level int, sev schemas.Severity) schemas.AlertEvent {
	start := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	at := start.Add(time.Duration(level) * time.Hour)
	id := schemas.AlertID(station.ID, "level", start)
	return schemas.AlertEvent{
		V: 1, ID: id, EventID: schemas.EventID(id, kind, level, at), Kind: kind, Station: station.ID,
		Sensor: sensor, Rule: "level", Level: level, LevelName: "BĐ III", Severity: sev,
		Value: 9.5, Threshold: 9.0, StartedAt: start, At: at, District: station.District,
	}
}

func TestBuildValidatesAgainstOASISSchema(t *testing.T) {
	b := builder(t)
	sent := time.Date(2026, 10, 28, 4, 5, 6, 789, time.UTC)
	first := cap.Ref{Sender: "pctt.danang.gov.vn", Identifier: "vn.danang.pctt.x.1", Sent: cap.Time{sent}}
	second := cap.Ref{Sender: "pctt.danang.gov.vn", Identifier: "vn.danang.pctt.x.2", Sent: cap.Time{sent.Add(time.Hour)}}
	edits := cap.Texts{VI: cap.Text{Headline: "Lũ khẩn cấp & <nguy hiểm>"}, EN: cap.Text{Instruction: "Go to the school on Route 14B."}}
	tests := []struct {
		name   string
		msg    cap.MsgType
		sensor schemas.Sensor
		kind   schemas.AlertKind
		sev    schemas.Severity
		refs   []cap.Ref
		texts  cap.Texts
		resp   cap.ResponseType
	}{
		{"flood alert", cap.MsgAlert, schemas.WaterLevel, schemas.AlertFired, schemas.SeveritySevere, nil, cap.Texts{}, cap.ResponsePrepare},
		{"edited texts with markup", cap.MsgAlert, schemas.WaterLevel, schemas.AlertFired, schemas.SeveritySevere, nil, edits, cap.ResponsePrepare},
		{"update after escalation", cap.MsgUpdate, schemas.WaterLevel, schemas.AlertEscalated, schemas.SeverityExtreme, []cap.Ref{first}, cap.Texts{}, cap.ResponseEvacuate},
		{"all clear (Update, CAP practice)", cap.MsgUpdate, schemas.WaterLevel, schemas.AlertResolved, schemas.SeverityExtreme, []cap.Ref{first, second}, cap.Texts{}, cap.ResponseAllClear},
		{"all clear", cap.MsgCancel, schemas.WaterLevel, schemas.AlertResolved, schemas.SeverityExtreme, []cap.Ref{first, second}, cap.Texts{}, cap.ResponseAllClear},
		{"landslide", cap.MsgAlert, schemas.Tilt, schemas.AlertFired, schemas.SeverityExtreme, nil, cap.Texts{}, cap.ResponseEvacuate},
		{"rain", cap.MsgAlert, schemas.Rainfall, schemas.AlertFired, schemas.SeverityModerate, nil, cap.Texts{}, cap.ResponseMonitor},
		{"wind", cap.MsgAlert, schemas.WindGust, schemas.AlertFired, schemas.SeverityMinor, nil, cap.Texts{}, cap.ResponseMonitor},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event(tc.sensor, tc.kind, 3, tc.sev)
			a, err := b.Build(cap.Issue{MsgType: tc.msg, Seq: i + 1, Event: ev, Station: station, Sent: sent, References: tc.refs, Texts: tc.texts})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := cap.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			captest.Validate(t, a.Identifier, doc)

			got, err := cap.Parse(doc)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, doc)
			}
			if want := "vn.danang.pctt." + ev.ID + "." + itoa(i+1); got.Identifier != want {
				t.Errorf("identifier %q, want %q", got.Identifier, want)
			}
			if got.Sent.String() != "2026-10-28T11:05:06+07:00" {
				t.Errorf("sent %s, want 2026-10-28T11:05:06+07:00", got.Sent)
			}
			if got.MsgType != tc.msg || got.Scope != cap.ScopePublic || got.Status != cap.StatusActual {
				t.Errorf("msgType/scope/status %s/%s/%s", got.MsgType, got.Scope, got.Status)
			}
			if want := cap.JoinRefs(tc.refs); got.References != want {
				t.Errorf("references %q, want %q", got.References, want)
			}
			if len(got.Info) != 2 || got.Info[0].Language != cap.LangVI || got.Info[1].Language != cap.LangEN {
				t.Fatalf("info languages: %+v", got.Info)
			}
			for _, in := range got.Info {
				if in.Headline == "" || in.Description == "" || in.Instruction == "" || in.Event == "" {
					t.Errorf("%s: empty text: %+v", in.Language, in)
				}
				if len(in.ResponseType) != 1 || in.ResponseType[0] != tc.resp {
					t.Errorf("%s: responseType %v, want %s", in.Language, in.ResponseType, tc.resp)
				}
				wantExp, wantUrg := cap.DefaultExpires, cap.UrgencyImmediate
				if tc.resp == cap.ResponseAllClear {
					wantExp, wantUrg = cap.DefaultAllClearExpires, cap.UrgencyPast
				} else if tc.sev == schemas.SeverityModerate {
					wantUrg = cap.UrgencyExpected
				} else if tc.sev == schemas.SeverityMinor {
					wantUrg = cap.UrgencyFuture
				}
				if in.Expires == nil || !in.Expires.Equal(got.Sent.Add(wantExp)) || in.Urgency != wantUrg {
					t.Errorf("%s: expires %v urgency %s, want sent+%s and %s", in.Language, in.Expires, in.Urgency, wantExp, wantUrg)
				}
				if len(in.Area) != 1 || in.Area[0].AreaDesc != "Đại Lộc (Ái Nghĩa)" || len(in.Area[0].Circle) != 1 || in.Area[0].Circle[0] != "15.88330,108.11670 5" {
					t.Errorf("%s: area %+v", in.Language, in.Area)
				}
			}
			if tc.texts.VI.Headline != "" && got.Info[0].Headline != tc.texts.VI.Headline {
				t.Errorf("edited headline %q, want %q", got.Info[0].Headline, tc.texts.VI.Headline)
			}
			if tc.texts.EN.Instruction != "" && got.Info[1].Instruction != tc.texts.EN.Instruction {
				t.Errorf("edited instruction %q", got.Info[1].Instruction)
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestDefaultTextsNameLevelPlaceAndRiver(t *testing.T) {
	b := builder(t)
	ev := event(schemas.WaterLevel, schemas.AlertFired, 3, schemas.SeveritySevere)
	tx := b.DefaultTexts(cap.MsgAlert, ev, station)
	for _, s := range []string{"lũ", "BĐ III", "Ái Nghĩa", "sông Vu Gia"} {
		if !strings.Contains(tx.VI.Headline, s) {
			t.Errorf("vi headline %q lacks %q", tx.VI.Headline, s)
		}
	}
	for _, s := range []string{"Flood", "BĐ III", "Ái Nghĩa", "Vu Gia river"} {
		if !strings.Contains(tx.EN.Headline, s) {
			t.Errorf("en headline %q lacks %q", tx.EN.Headline, s)
		}
	}
	if !strings.Contains(tx.EN.Description, "9.50 m") || !strings.Contains(tx.EN.Description, "9.00 m") {
		t.Errorf("en description %q lacks value and threshold", tx.EN.Description)
	}
	if c := b.DefaultTexts(cap.MsgCancel, ev, station); !strings.HasPrefix(c.EN.Headline, "All clear") {
		t.Errorf("cancel headline %q", c.EN.Headline)
	}
	resolved := event(schemas.WaterLevel, schemas.AlertResolved, 3, schemas.SeverityExtreme)
	if c := b.DefaultTexts(cap.MsgUpdate, resolved, station); !strings.HasPrefix(c.EN.Headline, "All clear") || !strings.HasPrefix(c.VI.Headline, "Kết thúc") {
		t.Errorf("all-clear update headlines %q / %q", c.VI.Headline, c.EN.Headline)
	}
}

func TestValidateRejects(t *testing.T) {
	good := func() *cap.Alert {
		return &cap.Alert{
			Identifier: "id.1", Sender: "s", Sent: cap.Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: cap.ScopePublic,
			Info: []cap.Info{{Language: cap.LangEN, Category: []cap.Category{cap.CategoryMet}, Event: "Flood",
				Urgency: cap.UrgencyImmediate, Severity: cap.SeveritySevere, Certainty: cap.CertaintyObserved}},
		}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good document: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*cap.Alert)
		want string
	}{
		{"identifier with space", func(a *cap.Alert) { a.Identifier = "a b" }, "identifier"},
		{"identifier with comma", func(a *cap.Alert) { a.Identifier = "a,b" }, "identifier"},
		{"no sender", func(a *cap.Alert) { a.Sender = "" }, "sender"},
		{"no sent", func(a *cap.Alert) { a.Sent = cap.Time{} }, "sent"},
		{"bad status", func(a *cap.Alert) { a.Status = "Live" }, "status"},
		{"update without references", func(a *cap.Alert) { a.MsgType = cap.MsgUpdate }, "references"},
		{"malformed reference", func(a *cap.Alert) { a.MsgType = cap.MsgCancel; a.References = "s,id.1" }, "references[0]"},
		{"reference with Z time", func(a *cap.Alert) { a.References = "s,id.1,2026-01-02T03:04:05Z" }, "references[0]"},
		{"two infos one language", func(a *cap.Alert) { a.Info = append(a.Info, a.Info[0]) }, "two info blocks"},
		{"no category", func(a *cap.Alert) { a.Info[0].Category = nil }, "category"},
		{"bad severity", func(a *cap.Alert) { a.Info[0].Severity = "Huge" }, "severity"},
		{"area without desc", func(a *cap.Alert) { a.Info[0].Area = []cap.Area{{Circle: []string{"1,2 3"}}} }, "areaDesc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := good()
			tc.mod(a)
			err := a.Validate()
			if !errors.Is(err, cap.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalid naming %q", err, tc.want)
			}
			if _, err := cap.Marshal(a); !errors.Is(err, cap.ErrInvalid) {
				t.Fatalf("Marshal = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"other namespace": `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"><identifier>a</identifier></alert>`,
		"not xml":         `{"identifier":"a"}`,
		"Z time":          `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier><sender>s</sender><sent>2026-01-02T03:04:05Z</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := cap.Parse([]byte(doc)); !errors.Is(err, cap.ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestNewBuilderRejects(t *testing.T) {
	tests := map[string]cap.Config{
		"no sender":       {},
		"sender comma":    {Sender: "a,b"},
		"bad status":      {Sender: "s", Status: "Live"},
		"radius":          {Sender: "s", RadiusKM: -1},
		"prefix space":    {Sender: "s", IdentifierPrefix: "a b"},
		"bad severity":    {Sender: "s", Severity: map[schemas.Severity]cap.Severity{schemas.SeverityMinor: "Tiny"}},
		"bad urgency":     {Sender: "s", Urgency: map[schemas.Severity]cap.Urgency{schemas.SeverityMinor: "Soon"}},
		"negative expiry": {Sender: "s", Expires: -time.Hour},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := cap.NewBuilder(c); !errors.Is(err, cap.ErrConfig) {
				t.Fatalf("NewBuilder = %v, want ErrConfig", err)
			}
		})
	}
}

func TestSeverityMapping(t *testing.T) {
	b, err := cap.NewBuilder(cap.Config{Sender: "s", RadiusKM: 2.5,
		Severity: map[schemas.Severity]cap.Severity{schemas.SeverityModerate: cap.SeveritySevere},
		Urgency:  map[schemas.Severity]cap.Urgency{schemas.SeverityModerate: cap.UrgencyImmediate}})
	if err != nil {
		t.Fatal(err)
	}
	ev := event(schemas.WaterLevel, schemas.AlertFired, 2, schemas.SeverityModerate)
	a, err := b.Build(cap.Issue{MsgType: cap.MsgAlert, Seq: 1, Event: ev, Station: station, Sent: ev.At})
	if err != nil {
		t.Fatal(err)
	}
	in := a.Info[1]
	if in.Severity != cap.SeveritySevere || in.Urgency != cap.UrgencyImmediate || in.Area[0].Circle[0] != "15.88330,108.11670 2.5" {
		t.Fatalf("severity %s urgency %s circle %s", in.Severity, in.Urgency, in.Area[0].Circle[0])
	}
	if _, err := b.Build(cap.Issue{MsgType: cap.MsgAlert, Seq: 1, Event: ev, Sent: ev.At}); !errors.Is(err, cap.ErrInvalid) {
		t.Fatalf("Build without station = %v, want ErrInvalid", err)
	}
}

// A basin's alert (its station is the basin) warns the basin: a circle
// around each of its stations, the basin and their districts.
func TestBuildBasin(t *testing.T) {
	b := builder(t)
	other := &schemas.Station{ID: "VG-HOIKHACH", Name: "Hội Khách", District: "Nam Giang", Lat: 15.8, Lon: 107.9}
	start := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	id := schemas.AlertID("basin-vu-gia-thu-bon", "basin:two-stations-bd2", start)
	ev := schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, schemas.AlertFired, 1, start), Kind: schemas.AlertFired,
		Station: "basin-vu-gia-thu-bon", Basin: "vu-gia-thu-bon", Rule: "basin:two-stations-bd2", Level: 1, Severity: schemas.SeveritySevere,
		StartedAt: start, At: start, Value: 1, Threshold: 1, Message: "two stations at BĐ II"}
	if _, err := b.Build(cap.Issue{MsgType: cap.MsgAlert, Seq: 1, Event: ev, Sent: start}); !errors.Is(err, cap.ErrInvalid) {
		t.Fatalf("Build without station or basin stations = %v, want ErrInvalid", err)
	}
	a, err := b.Build(cap.Issue{MsgType: cap.MsgAlert, Seq: 1, Event: ev, Area: []*schemas.Station{station, other}, Sent: start})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cap.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	captest.Validate(t, "basin", doc)
	for _, in := range a.Info {
		ar := in.Area[0]
		if ar.AreaDesc != "vu-gia-thu-bon (Đại Lộc, Nam Giang)" || len(ar.Circle) != 2 || ar.Circle[1] != "15.80000,107.90000 5" {
			t.Errorf("%s: area %+v", in.Language, ar)
		}
		if !strings.Contains(in.Headline, "vu-gia-thu-bon") || !strings.Contains(in.Description, "two stations at BĐ II") {
			t.Errorf("%s: texts %q / %q", in.Language, in.Headline, in.Description)
		}
	}
}
