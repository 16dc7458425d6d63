package publish_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/alerts/cap/captest"
	"github.com/resilience-project/resilience/alerts/publish"
	"github.com/resilience-project/resilience/schemas"
)

var start = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

func registry(t *testing.T) *schemas.Registry {
	t.Helper()
	r, err := schemas.NewRegistry([]schemas.Station{{
		ID: "VG-AINGHIA", Name: "Ái Nghĩa", River: "Vu Gia", Basin: "Vu Gia - Thu Bồn", District: "Đại Lộc",
		Lat: 15.8833, Lon: 108.1167, Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel},
		AlarmLevelsM: schemas.Levels{I: 6.5, II: 8, III: 9},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Minute); return c.t }

func newPublisher(t *testing.T, log publish.Log) *publish.Publisher {
	t.Helper()
	b, err := cap.NewBuilder(cap.Config{Sender: "pctt.danang.gov.vn", IdentifierPrefix: "vn.danang.pctt."})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: start.Add(time.Hour)}
	p, err := publish.New(context.Background(), publish.Config{MinSeverity: schemas.SeveritySevere},
		publish.Options{Builder: b, Log: log, Stations: registry(t), Now: c.now, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ev(kind schemas.AlertKind, level int, sev schemas.Severity, minutes int) schemas.AlertEvent {
	id := schemas.AlertID("VG-AINGHIA", "level", start)
	at := start.Add(time.Duration(minutes) * time.Minute)
	return schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, kind, level, at), Kind: kind,
		Station: "VG-AINGHIA", Sensor: schemas.WaterLevel, Rule: "level", Level: level, LevelName: "BĐ",
		Severity: sev, Value: 9.5, Threshold: 9, StartedAt: start, At: at}
}

var alertID = schemas.AlertID("VG-AINGHIA", "level", start)

func openLog(t *testing.T, path string) *publish.FileLog {
	t.Helper()
	l, err := publish.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// step is an event to observe or, with approve set, an approval.
type step struct {
	ev        *schemas.AlertEvent
	approve   bool
	discard   bool
	wantDraft cap.MsgType // "" : no draft afterwards
	wantErr   error
}

func evp(e schemas.AlertEvent) *schemas.AlertEvent { return &e }

func TestWorkflow(t *testing.T) {
	tests := []struct {
		name     string
		steps    []step
		wantDocs []cap.MsgType // oldest first
	}{
		{"below min severity: nothing", []step{
			{ev: evp(ev(schemas.AlertFired, 1, schemas.SeverityModerate, 0))},
			{approve: true, wantErr: publish.ErrNoDraft},
		}, nil},
		{"fired, approved, escalated, approved, resolved, approved", []step{
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)), wantDraft: cap.MsgAlert},
			{approve: true},
			{ev: evp(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10)), wantDraft: cap.MsgUpdate},
			{approve: true},
			{ev: evp(ev(schemas.AlertResolved, 3, schemas.SeverityExtreme, 20)), wantDraft: cap.MsgUpdate},
			{approve: true},
			{ev: evp(ev(schemas.AlertFired, 3, schemas.SeverityExtreme, 30))},
		}, []cap.MsgType{cap.MsgAlert, cap.MsgUpdate, cap.MsgUpdate}},
		{"escalation into min severity drafts an Alert", []step{
			{ev: evp(ev(schemas.AlertFired, 1, schemas.SeverityModerate, 0))},
			{ev: evp(ev(schemas.AlertEscalated, 2, schemas.SeveritySevere, 5)), wantDraft: cap.MsgAlert},
			{approve: true},
		}, []cap.MsgType{cap.MsgAlert}},
		{"escalation before approval refreshes the draft", []step{
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)), wantDraft: cap.MsgAlert},
			{ev: evp(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 5)), wantDraft: cap.MsgAlert},
			{approve: true},
			{ev: evp(ev(schemas.AlertDeescalated, 2, schemas.SeveritySevere, 9))},
		}, []cap.MsgType{cap.MsgAlert}},
		{"resolved before approval: draft dropped, nothing to cancel", []step{
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)), wantDraft: cap.MsgAlert},
			{ev: evp(ev(schemas.AlertResolved, 2, schemas.SeveritySevere, 5))},
		}, nil},
		{"duplicate event after approval drafts nothing", []step{
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)), wantDraft: cap.MsgAlert},
			{approve: true},
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0))},
		}, []cap.MsgType{cap.MsgAlert}},
		{"discarded draft", []step{
			{ev: evp(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)), wantDraft: cap.MsgAlert},
			{discard: true},
			{approve: true, wantErr: publish.ErrNoDraft},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
			for i, s := range tc.steps {
				var err error
				switch {
				case s.ev != nil:
					p.Observe(*s.ev)
				case s.approve:
					_, err = p.Approve(context.Background(), alertID, "publisher1", cap.Texts{})
				case s.discard:
					err = p.Discard(context.Background(), alertID, "publisher1", "not for the public")
				}
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: error %v, want %v", i, err, s.wantErr)
				}
				ds := p.Drafts()
				switch {
				case s.wantDraft == "" && len(ds) != 0:
					t.Fatalf("step %d: drafts %+v, want none", i, ds)
				case s.wantDraft != "" && (len(ds) != 1 || ds[0].MsgType != s.wantDraft):
					t.Fatalf("step %d: drafts %+v, want one %s", i, ds, s.wantDraft)
				}
			}
			docs := p.Issued(0)
			if len(docs) != len(tc.wantDocs) {
				t.Fatalf("%d documents issued, want %d", len(docs), len(tc.wantDocs))
			}
			var refs []string
			for i := range docs {
				r := docs[len(docs)-1-i] // oldest first
				if r.MsgType != tc.wantDocs[i] || r.Seq != i+1 {
					t.Fatalf("doc %d: %s seq %d, want %s seq %d", i, r.MsgType, r.Seq, tc.wantDocs[i], i+1)
				}
				a, err := cap.Parse(r.Doc)
				if err != nil {
					t.Fatalf("doc %d: %v", i, err)
				}
				if a.References != strings.Join(refs, " ") {
					t.Fatalf("doc %d references %q, want %q", i, a.References, strings.Join(refs, " "))
				}
				refs = append(refs, cap.RefOf(a).String())
			}
		})
	}
}

func TestApproveWithEditsAndLatestFacts(t *testing.T) {
	p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
	p.Observe(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0))
	p.Observe(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 5))
	if _, err := p.Approve(context.Background(), alertID, "", cap.Texts{}); !errors.Is(err, publish.ErrNoApprover) {
		t.Fatalf("Approve without user = %v, want ErrNoApprover", err)
	}
	r, err := p.Approve(context.Background(), alertID, "publisher1", cap.Texts{EN: cap.Text{Headline: "Evacuate Ái Nghĩa now"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cap.Parse(r.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if a.Info[1].Headline != "Evacuate Ái Nghĩa now" || r.Headline != "Evacuate Ái Nghĩa now" {
		t.Errorf("edited headline %q / record %q", a.Info[1].Headline, r.Headline)
	}
	if a.Info[0].Headline == "" || a.Info[1].Description == "" {
		t.Errorf("unedited texts lost: %+v", a.Info)
	}
	if a.Info[0].Severity != cap.SeverityExtreme || r.Level != 3 || r.ApprovedBy != "publisher1" {
		t.Errorf("document reports severity %s level %d by %q, want the escalation (Extreme, 3) by publisher1", a.Info[0].Severity, r.Level, r.ApprovedBy)
	}
	if want := "vn.danang.pctt." + alertID + ".1"; r.Identifier != want {
		t.Errorf("identifier %q, want %q", r.Identifier, want)
	}
}

// A restart replays the log: the issued documents are served as they were
// issued, and replaying the alerts topic drafts nothing already published.
func TestRestartReplaysIssuedDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.log")
	l1, err := publish.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p1 := newPublisher(t, l1)
	fired, esc := ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0), ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10)
	p1.Observe(fired)
	first, err := p1.Approve(context.Background(), alertID, "publisher1", cap.Texts{})
	if err != nil {
		t.Fatal(err)
	}
	p1.Observe(esc)
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}

	p2 := newPublisher(t, openLog(t, path))
	got, ok := p2.Document(first.Identifier)
	if !ok || string(got.Doc) != string(first.Doc) {
		t.Fatalf("document %s after restart: ok=%v, bytes equal=%v", first.Identifier, ok, string(got.Doc) == string(first.Doc))
	}
	p2.Observe(fired)
	p2.Observe(esc)
	ds := p2.Drafts()
	if len(ds) != 1 || ds[0].MsgType != cap.MsgUpdate {
		t.Fatalf("drafts after replay %+v, want one Update (the fired event was published)", ds)
	}
	r, err := p2.Approve(context.Background(), alertID, "publisher2", cap.Texts{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cap.Parse(r.Doc)
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := cap.Parse(first.Doc)
	if r.Seq != 2 || a.References != cap.RefOf(fa).String() {
		t.Fatalf("update seq %d references %q, want 2 and %q", r.Seq, a.References, cap.RefOf(fa).String())
	}
}

func TestFileLogTornAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cap.log")
	l := openLog(t, path)
	if err := l.Append(context.Background(), publish.Record{Identifier: "a.1", AlertID: "a", Seq: 1, Doc: []byte("<x/>")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"identifier":"a.2","al`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l2 := openLog(t, path)
	recs, _ := l2.Records(context.Background())
	if len(recs) != 1 || recs[0].Identifier != "a.1" {
		t.Fatalf("records after torn line %+v, want a.1 only", recs)
	}
	if err := l2.Append(context.Background(), publish.Record{Identifier: "a.2", AlertID: "a", Seq: 2}); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	recs, _ = openLog(t, path).Records(context.Background())
	if len(recs) != 2 || recs[1].Identifier != "a.2" {
		t.Fatalf("records after append past the cut %+v, want a.1 a.2", recs)
	}

	bad := filepath.Join(dir, "bad.log")
	if err := os.WriteFile(bad, []byte("not json\n{\"identifier\":\"b.1\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.OpenFile(bad); !errors.Is(err, publish.ErrCorrupt) {
		t.Fatalf("OpenFile of a corrupt log = %v, want ErrCorrupt", err)
	}
}

func TestHandlerServesDocumentsAndFeed(t *testing.T) {
	p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
	p.Observe(ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0))
	first, err := p.Approve(context.Background(), alertID, "publisher1", cap.Texts{})
	if err != nil {
		t.Fatal(err)
	}
	p.Observe(ev(schemas.AlertResolved, 2, schemas.SeveritySevere, 30))
	cancel, err := p.Approve(context.Background(), alertID, "publisher1", cap.Texts{})
	if err != nil {
		t.Fatal(err)
	}
	fc := publish.FeedConfig{BaseURL: "https://canhbao.example/"}
	srv := httptest.NewServer(publish.NewHandler(p, fc))
	t.Cleanup(srv.Close)

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, body := get("/cap/" + first.Identifier + ".xml")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), cap.ContentType) || string(body) != string(first.Doc) {
		t.Fatalf("GET document: %d %s, same bytes %v", resp.StatusCode, resp.Header.Get("Content-Type"), string(body) == string(first.Doc))
	}
	for _, path := range []string{"/cap/nope.xml", "/cap/" + first.Identifier, "/cap/"} {
		if resp, _ := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}

	resp, body = get("/cap/feed.atom")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("GET feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var feed publish.Feed
	if err := xml.Unmarshal(body, &feed); err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, body)
	}
	if feed.XMLName.Space != publish.AtomNamespace || feed.ID != "https://canhbao.example/cap/feed.atom" || len(feed.Links) != 1 || feed.Links[0].Rel != "self" {
		t.Fatalf("feed head %+v", feed)
	}
	if len(feed.Entries) != 2 {
		t.Fatalf("%d entries, want 2", len(feed.Entries))
	}
	for i, want := range []publish.Record{cancel, first} { // newest first
		e := feed.Entries[i]
		url := "https://canhbao.example/cap/" + want.Identifier + ".xml"
		if e.ID != url || len(e.Links) != 1 || e.Links[0].Href != url || e.Links[0].Type != cap.ContentType || e.Links[0].Rel != "alternate" {
			t.Errorf("entry %d: %+v, want id and link %s", i, e, url)
		}
		up, err := time.Parse(time.RFC3339, e.Updated)
		if err != nil || !up.Equal(want.Sent) {
			t.Errorf("entry %d updated %q (%v), want %s", i, e.Updated, err, want.Sent)
		}
		if e.Title == "" {
			t.Errorf("entry %d: empty title", i)
		}
	}
	if feed.Updated != feed.Entries[0].Updated {
		t.Errorf("feed updated %s, want the newest entry's %s", feed.Updated, feed.Entries[0].Updated)
	}
}

// A discarded draft stays discarded across a restart: replaying the alerts
// topic (the same events) drafts nothing, a later event drafts again.
// (Discards used to live in memory only: after a restart the replay
// re-created every discarded draft.)
func TestDiscardSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.log")
	l1, err := publish.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p1 := newPublisher(t, l1)
	fired := ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0)
	p1.Observe(fired)
	if err := p1.Discard(context.Background(), alertID, "publisher1", ""); !errors.Is(err, publish.ErrNoReason) {
		t.Fatalf("Discard without reason = %v, want ErrNoReason", err)
	}
	if err := p1.Discard(context.Background(), alertID, "publisher1", "sensor fault, confirmed by phone"); err != nil {
		t.Fatal(err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}

	p2 := newPublisher(t, openLog(t, path))
	p2.Observe(fired)
	if ds := p2.Drafts(); len(ds) != 0 {
		t.Fatalf("drafts after restart and replay %+v, want none (discarded)", ds)
	}
	p2.Observe(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10))
	if ds := p2.Drafts(); len(ds) != 1 || ds[0].MsgType != cap.MsgAlert || ds[0].Event.Level != 3 {
		t.Fatalf("drafts after a later escalation %+v, want one Alert at level 3", ds)
	}
}

// The whole chain: Alert → Update (escalation) → all-clear (an Update with
// responseType AllClear), every document valid against the OASIS schema,
// each referencing every earlier one, served by the feed.
func TestChainValidatesAgainstOASISSchema(t *testing.T) {
	p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
	ctx := context.Background()
	var issued []publish.Record
	for _, e := range []schemas.AlertEvent{
		ev(schemas.AlertFired, 2, schemas.SeveritySevere, 0),
		ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 10),
		ev(schemas.AlertResolved, 3, schemas.SeverityExtreme, 40),
	} {
		if !p.Observe(e) {
			t.Fatalf("%s drafted nothing", e.Kind)
		}
		d, ok := p.Draft(alertID)
		if !ok || len(d.References) != len(issued) {
			t.Fatalf("draft after %s: %+v (ok %v), want %d references", e.Kind, d, ok, len(issued))
		}
		preview, err := p.Preview(alertID, cap.Texts{})
		if err != nil {
			t.Fatal(err)
		}
		captest.Validate(t, "preview-"+string(e.Kind), preview)
		r, err := p.Approve(ctx, alertID, "publisher1", cap.Texts{VI: cap.Text{Instruction: "Đến trường THCS Lê Lợi."}})
		if err != nil {
			t.Fatal(err)
		}
		captest.Validate(t, r.Identifier, r.Doc)
		issued = append(issued, r)
	}
	var refs []string
	for i, r := range issued {
		a, err := cap.Parse(r.Doc)
		if err != nil {
			t.Fatal(err)
		}
		wantType := []cap.MsgType{cap.MsgAlert, cap.MsgUpdate, cap.MsgUpdate}[i]
		if a.MsgType != wantType || a.References != strings.Join(refs, " ") {
			t.Errorf("doc %d: %s references %q, want %s %q", i, a.MsgType, a.References, wantType, strings.Join(refs, " "))
		}
		allClear := a.Info[0].ResponseType[0] == cap.ResponseAllClear
		if allClear != (i == 2) || r.AllClear != (i == 2) || a.Info[0].Instruction != "Đến trường THCS Lê Lợi." {
			t.Errorf("doc %d: all clear %v (record %v), vi instruction %q", i, allClear, r.AllClear, a.Info[0].Instruction)
		}
		refs = append(refs, cap.RefOf(a).String())
	}
	if p.Observe(ev(schemas.AlertEscalated, 3, schemas.SeverityExtreme, 50)) || len(p.Drafts()) != 0 {
		t.Fatalf("an event after the all-clear drafted %+v", p.Drafts())
	}
}

// An alert of a station and basin the registry does not know drafts
// nothing: there is no area to warn. (A basin-scope alert, whose station
// is the basin, used to become a draft without texts that every approval
// refused with ErrUnknownStation.)
func TestUnknownStationDraftsNothing(t *testing.T) {
	p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
	e := ev(schemas.AlertFired, 1, schemas.SeverityExtreme, 0)
	e.Station, e.Basin, e.Rule = "basin-vu-gia-thu-bon", "vu-gia-thu-bon", "basin_flood"
	e.ID = schemas.AlertID(e.Station, e.Rule, start)
	e.EventID = schemas.EventID(e.ID, e.Kind, e.Level, e.At)
	if p.Observe(e) {
		t.Error("Observe reported a draft for an unknown station")
	}
	if ds := p.Drafts(); len(ds) != 0 {
		t.Fatalf("drafts %+v, want none", ds)
	}
}

// A basin-scope alert (its station is the basin) warns the basin: every
// station of the basin in the area, valid against the OASIS schema.
func TestBasinAlert(t *testing.T) {
	p := newPublisher(t, openLog(t, filepath.Join(t.TempDir(), "cap.log")))
	e := ev(schemas.AlertFired, 1, schemas.SeveritySevere, 0)
	e.Station, e.Basin, e.Rule, e.Sensor, e.Message = "basin-vu-gia-thu-bon", "Vu Gia - Thu Bồn", "basin:two-stations-bd2", "", "two stations at BĐ II"
	e.ID = schemas.AlertID(e.Station, e.Rule, start)
	e.EventID = schemas.EventID(e.ID, e.Kind, e.Level, e.At)
	if !p.Observe(e) {
		t.Fatal("a basin alert drafted nothing")
	}
	d, ok := p.Draft(e.ID)
	if !ok || !strings.Contains(d.Texts.VI.Headline, "Vu Gia - Thu Bồn") || !strings.Contains(d.Texts.EN.Description, "two stations at BĐ II") {
		t.Fatalf("basin draft %+v", d)
	}
	r, err := p.Approve(context.Background(), e.ID, "publisher1", cap.Texts{})
	if err != nil {
		t.Fatal(err)
	}
	captest.Validate(t, r.Identifier, r.Doc)
	a, err := cap.Parse(r.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if ar := a.Info[0].Area[0]; ar.AreaDesc != "Vu Gia - Thu Bồn (Đại Lộc)" || len(ar.Circle) != 1 {
		t.Fatalf("basin area %+v", ar)
	}
}
