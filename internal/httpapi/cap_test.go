package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// The public feed and documents are XML; the OpenAPI check reads them as
// opaque strings.
func init() {
	openapi3filter.RegisterBodyDecoder("application/atom+xml", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/cap+xml", openapi3filter.PlainBodyDecoder)
}

const capAlertID = "VG-AINGHIA-1ce5f7dda6d0bf32"

type approveCall struct {
	id, by string
	edits  httpapi.CAPTexts
}

// fakeCAP is a CAPPublisher with one pending draft; Approve and Discard
// take it away.
type fakeCAP struct {
	mu        sync.Mutex
	draft     *httpapi.CAPDraft
	approved  []approveCall
	discarded []string
	err       error // returned by Approve when set
}

func newFakeCAP() *fakeCAP {
	return &fakeCAP{draft: &httpapi.CAPDraft{AlertID: capAlertID, MsgType: "Alert",
		Event: schemas.AlertEvent{V: 1, ID: capAlertID, EventID: capAlertID + ":fired:3:1", Kind: schemas.AlertFired,
			Station: "VG-AINGHIA", Rule: "level", Level: 3, Severity: schemas.SeverityExtreme, At: t0, StartedAt: t0},
		Texts: httpapi.CAPTexts{VI: httpapi.CAPText{Headline: "Cảnh báo lũ", Description: "d", Instruction: "i"},
			EN: httpapi.CAPText{Headline: "Flood warning", Description: "d", Instruction: "i"}},
		References: []string{}, CreatedAt: t0, UpdatedAt: t0}}
}

func (f *fakeCAP) Drafts() []httpapi.CAPDraft {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draft == nil {
		return nil
	}
	return []httpapi.CAPDraft{*f.draft}
}

func (f *fakeCAP) Draft(id string) (httpapi.CAPDraft, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draft == nil || f.draft.AlertID != id {
		return httpapi.CAPDraft{}, nil, httpapi.ErrNoCAPDraft
	}
	return *f.draft, []byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>`), nil
}

func (f *fakeCAP) Approve(_ context.Context, id, by string, edits httpapi.CAPTexts) (httpapi.CAPDocument, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return httpapi.CAPDocument{}, f.err
	}
	if f.draft == nil || f.draft.AlertID != id {
		return httpapi.CAPDocument{}, fmt.Errorf("alert %s: %w", id, httpapi.ErrNoCAPDraft)
	}
	f.draft = nil
	f.approved = append(f.approved, approveCall{id, by, edits})
	ident := "vn.danang.pctt." + id + ".1"
	return httpapi.CAPDocument{Identifier: ident, AlertID: id, Seq: 1, MsgType: "Alert", Sent: t0, ApprovedBy: by,
		Headline: "Flood warning", URL: "https://canhbao.example/cap/" + ident + ".xml"}, nil
}

func (f *fakeCAP) Discard(_ context.Context, id, by, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draft == nil || f.draft.AlertID != id {
		return fmt.Errorf("alert %s: %w", id, httpapi.ErrNoCAPDraft)
	}
	f.draft = nil
	f.discarded = append(f.discarded, by+": "+reason)
	return nil
}

// newCAPFixture is a server with only the CAP routes (and a real audit
// log), one token per role.
func newCAPFixture(t *testing.T, pub *fakeCAP) *fixture {
	t.Helper()
	f := &fixture{t: t}
	var toks []auth.Token
	f.tokens, toks = roleTokens(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn, err := auth.New(toks, auth.Options{Rate: 10000, Burst: 10000, Now: func() time.Time { return t0 }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	f.logPath = filepath.Join(t.TempDir(), "audit.jsonl")
	if f.log, err = audit.Open(f.logPath, audit.Options{Now: func() time.Time { return t0 }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.log.Close() })
	feed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cap/feed.atom" {
			w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
			io.WriteString(w, `<feed xmlns="http://www.w3.org/2005/Atom"></feed>`)
			return
		}
		http.NotFound(w, r)
	})
	f.h = httpapi.New(httpapi.Options{Auth: authn, Audit: f.log, Logger: logger, Now: func() time.Time { return t0 },
		CAP: httpapi.NewCAP(pub, feed, logger)}).Handler()
	return f
}

// Each role can do exactly what it may on the CAP routes: the publisher
// endpoints need the publish permission (publisher, admin), the feed is
// public.
func TestCAPRoles(t *testing.T) {
	type route struct{ method, path, body string }
	routes := []route{
		{http.MethodGet, "/api/v1/cap/drafts", ""},
		{http.MethodGet, "/api/v1/cap/drafts/" + capAlertID, ""},
		{http.MethodPost, "/api/v1/cap/drafts/" + capAlertID + "/approve", `{}`},
		{http.MethodPost, "/api/v1/cap/drafts/" + capAlertID + "/discard", `{"reason":"drill"}`},
		{http.MethodGet, "/cap/feed.atom", ""},
	}
	wantOK := map[string]int{"GET": http.StatusOK, "POST approve": http.StatusCreated, "POST discard": http.StatusOK}
	for _, rt := range routes {
		public := strings.HasPrefix(rt.path, "/cap/")
		for _, who := range []struct {
			name  string
			role  auth.Role
			authz string
		}{{"no token", 0, ""}, {"bad token", 0, "Bearer rsl_not-a-token"}, {"viewer", auth.RoleViewer, ""},
			{"operator", auth.RoleOperator, ""}, {"publisher", auth.RolePublisher, ""}, {"admin", auth.RoleAdmin, ""}} {
			t.Run(rt.method+" "+rt.path+" as "+who.name, func(t *testing.T) {
				f := newCAPFixture(t, newFakeCAP()) // a fresh draft for every write
				rec := f.do(t, req{method: rt.method, path: rt.path, body: rt.body, role: who.role, authz: who.authz})
				key := rt.method
				if rt.method == http.MethodPost {
					key += " " + rt.path[strings.LastIndex(rt.path, "/")+1:]
				}
				want := wantOK[key]
				switch {
				case public:
				case who.role == 0:
					want = http.StatusUnauthorized
				case !who.role.Allows(auth.PermPublish):
					want = http.StatusForbidden
				}
				if rec.Code != want {
					t.Fatalf("%d, want %d: %s", rec.Code, want, rec.Body)
				}
			})
		}
	}
}

// Approve with edits: the publisher's name is the approver, the edits are
// passed on, the answer names the public document, the audit log records
// it; a second approve finds no draft; a conflict is 409.
func TestCAPApproveAndDiscard(t *testing.T) {
	pub := newFakeCAP()
	f := newCAPFixture(t, pub)
	var list struct{ Drafts []httpapi.CAPDraft }
	decode(t, f.do(t, req{path: "/api/v1/cap/drafts", role: auth.RolePublisher}), &list)
	if len(list.Drafts) != 1 || list.Drafts[0].AlertID != capAlertID {
		t.Fatalf("drafts %+v", list.Drafts)
	}
	var one struct {
		Draft   httpapi.CAPDraft
		Preview string
	}
	decode(t, f.do(t, req{path: "/api/v1/cap/drafts/" + capAlertID, role: auth.RolePublisher}), &one)
	if one.Draft.AlertID != capAlertID || !strings.Contains(one.Preview, "urn:oasis:names:tc:emergency:cap:1.2") {
		t.Fatalf("draft %+v preview %q", one.Draft, one.Preview)
	}
	if rec := f.do(t, req{path: "/api/v1/cap/drafts/nope", role: auth.RolePublisher}); rec.Code != http.StatusNotFound {
		t.Fatalf("GET unknown draft: %d", rec.Code)
	}
	for _, bad := range []string{`{"by":"someone-else"}`, `{"texts":{"fr":{}}}`, `[1]`} {
		if rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/approve", body: bad, role: auth.RolePublisher}); rec.Code != http.StatusBadRequest {
			t.Fatalf("approve with %s: %d, want 400", bad, rec.Code)
		}
	}
	rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/approve", role: auth.RolePublisher,
		body: `{"texts":{"en":{"headline":"Evacuate Ái Nghĩa now"}}}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	var doc struct{ Document httpapi.CAPDocument }
	decode(t, rec, &doc)
	if doc.Document.ApprovedBy != "publisher-user" || rec.Header().Get("Location") != doc.Document.URL || doc.Document.URL == "" {
		t.Fatalf("document %+v, Location %q", doc.Document, rec.Header().Get("Location"))
	}
	if len(pub.approved) != 1 || pub.approved[0].by != "publisher-user" || pub.approved[0].edits.EN.Headline != "Evacuate Ái Nghĩa now" || pub.approved[0].edits.VI.Headline != "" {
		t.Fatalf("publisher got %+v", pub.approved)
	}
	if rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/approve", role: auth.RolePublisher}); rec.Code != http.StatusNotFound {
		t.Fatalf("second approve: %d, want 404", rec.Code)
	}

	// A discard needs a reason; the audit log has both writes.
	pub.mu.Lock()
	pub.draft = newFakeCAP().draft
	pub.mu.Unlock()
	if rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/discard", body: `{}`, role: auth.RolePublisher}); rec.Code != http.StatusBadRequest {
		t.Fatalf("discard without reason: %d, want 400", rec.Code)
	}
	if rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/discard", body: `{"reason":"sensor fault"}`, role: auth.RoleAdmin}); rec.Code != http.StatusOK {
		t.Fatalf("discard: %d %s", rec.Code, rec.Body)
	}
	if len(pub.discarded) != 1 || pub.discarded[0] != "admin-user: sensor fault" {
		t.Fatalf("discarded %v", pub.discarded)
	}
	var approve, discard *audit.Entry
	for _, e := range f.auditEntries() {
		switch {
		case e.Action == "cap.approve" && strings.HasPrefix(e.Detail["outcome"], "201"):
			approve = &e
		case e.Action == "cap.discard" && strings.HasPrefix(e.Detail["outcome"], "200"):
			discard = &e
		}
	}
	if approve == nil || approve.Target != capAlertID || approve.Actor != "publisher-user" || approve.Detail["identifier"] != doc.Document.Identifier {
		t.Errorf("approve audit entry %+v", approve)
	}
	if discard == nil || discard.Target != capAlertID || discard.Detail["reason"] != "sensor fault" {
		t.Errorf("discard audit entry %+v", discard)
	}

	// Another replica issued it first: 409.
	pub.mu.Lock()
	pub.draft, pub.err = newFakeCAP().draft, fmt.Errorf("document x.2: %w", httpapi.ErrCAPIssued)
	pub.mu.Unlock()
	if rec := f.do(t, req{method: http.MethodPost, path: "/api/v1/cap/drafts/" + capAlertID + "/approve", role: auth.RolePublisher}); rec.Code != http.StatusConflict {
		t.Fatalf("approve of an issued document: %d, want 409", rec.Code)
	}
}
