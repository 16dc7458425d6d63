package main

// End-to-end proof of the CAP 1.2 public warnings (issue 9, part 3) on the
// embedded stack, in process: a reading above BĐ II at Ái Nghĩa becomes a
// draft that only a publisher may see and approve; the issued document is
// public at /cap/{id}.xml (valid against the OASIS schema) and in the Atom
// feed; the escalation to BĐ III drafts an Update and the fall below BĐ I
// an all-clear, each referencing the earlier documents; a restart keeps
// the issued documents (same bytes) and the pending draft. Every wait is
// for an observable condition with a generous deadline.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/alerts/cap/captest"
	"github.com/resilience-project/resilience/alerts/publish"
	"github.com/resilience-project/resilience/internal/auth"
)

// capStack is one run of the stack and what the test talks to it with.
type capStack struct {
	cfg    Config
	cancel context.CancelFunc
	done   chan error
	tokens map[string]string // role → token
	cl     *http.Client
}

func startCAPStack(t *testing.T, dataDir, logKind string, tokens map[string]string, tokensFile string) *capStack {
	t.Helper()
	return startCAPStackMode(t, ModeRun, dataDir, logKind, tokens, tokensFile, nil)
}

// startCAPStackMode starts mode with the CAP configuration; edit, if set,
// changes the configuration last.
func startCAPStackMode(t *testing.T, mode Mode, dataDir, logKind string, tokens map[string]string, tokensFile string, edit func(*Config)) *capStack {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.StationsFile = filepath.Join("..", "..", "deployments", "config", "stations.yaml")
	cfg.DataDir = dataDir
	cfg.Kafka.Partitions = 2
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.MQTT.Embedded.Listen = freeAddr(t)
	cfg.HTTP.Listen = freeAddr(t)
	cfg.HTTP.TokensFile = tokensFile
	cfg.Ingest.ClientID = "cap-e2e"
	cfg.Publish.Sender = "pctt.danang.gov.vn"
	cfg.Publish.IdentifierPrefix = "vn.danang.pctt."
	cfg.Publish.SenderNameVI, cfg.Publish.SenderNameEN = "Ban Chỉ huy PCTT TP Đà Nẵng", "Da Nang Disaster Prevention Command"
	cfg.Publish.BaseURL = "https://canhbao.example"
	cfg.Publish.Log.Kind = logKind
	if edit != nil {
		edit(&cfg)
	}
	must(t, cfg.Validate())
	// freeAddr's ports were free a moment ago; on a busy machine another
	// process can take one first: start again on new ones.
	for attempt := 1; ; attempt++ {
		s, err := tryCAPStack(t, mode, cfg, tokens)
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("RunStack returned before it was ready: %v", err)
		}
		cfg.MQTT.Embedded.Listen, cfg.HTTP.Listen = freeAddr(t), freeAddr(t)
	}
}

// tryCAPStack starts cfg and waits until it is ready; it returns RunStack's
// error if the stack ends first.
func tryCAPStack(t *testing.T, mode Mode, cfg Config, tokens map[string]string) (*capStack, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &capStack{cfg: cfg, cancel: cancel, done: make(chan error, 1), tokens: tokens,
		cl: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}}
	go func() { s.done <- RunStack(ctx, mode, cfg, slog.New(slog.DiscardHandler), nil) }()
	var early error
	ended := false
	waitUntil(t, "the stack is ready", 2*time.Minute, func() bool {
		select {
		case early = <-s.done:
			ended = true
			return true
		default:
		}
		resp, err := s.cl.Get("http://" + cfg.HTTP.Listen + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if ended {
		cancel()
		if early == nil {
			early = errors.New("RunStack returned nil before it was ready")
		}
		return nil, early
	}
	t.Cleanup(func() { s.stop(t) })
	return s, nil
}

func (s *capStack) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	awaitRunStack(t, s.done)
	s.cl.CloseIdleConnections()
}

// call sends a request as role ("" : no token) and returns the status and
// body.
func (s *capStack) call(t *testing.T, method, path, role, body string) (int, []byte, http.Header) {
	t.Helper()
	code, b, hdr, err := s.try(method, path, role, body)
	must(t, err)
	return code, b, hdr
}

// try is call for any goroutine (it fails no test).
func (s *capStack) try(method, path, role, body string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.cfg.HTTP.Listen+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[role])
	}
	resp, err := s.cl.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

type capDraftDTO struct {
	AlertID    string   `json:"alert_id"`
	MsgType    string   `json:"msg_type"`
	AllClear   bool     `json:"all_clear"`
	References []string `json:"references"`
	Event      struct {
		Level int `json:"level"`
	} `json:"event"`
}

func (s *capStack) drafts(t *testing.T) []capDraftDTO {
	t.Helper()
	code, b, _ := s.call(t, http.MethodGet, "/api/v1/cap/drafts", "publisher", "")
	if code != http.StatusOK {
		t.Fatalf("GET drafts: %d %s", code, b)
	}
	var out struct{ Drafts []capDraftDTO }
	must(t, json.Unmarshal(b, &out))
	return out.Drafts
}

// waitDraft waits for the one draft to satisfy ok.
func (s *capStack) waitDraft(t *testing.T, what string, ok func(capDraftDTO) bool) capDraftDTO {
	t.Helper()
	var d capDraftDTO
	waitUntil(t, what, 90*time.Second, func() bool {
		ds := s.drafts(t)
		if len(ds) == 1 && ok(ds[0]) {
			d = ds[0]
			return true
		}
		return false
	})
	return d
}

type capDocDTO struct {
	Identifier string `json:"identifier"`
	MsgType    string `json:"msg_type"`
	AllClear   bool   `json:"all_clear"`
	URL        string `json:"url"`
	ApprovedBy string `json:"approved_by"`
}

func (s *capStack) approve(t *testing.T, alertID, body string) capDocDTO {
	t.Helper()
	code, b, hdr := s.call(t, http.MethodPost, "/api/v1/cap/drafts/"+alertID+"/approve", "publisher", body)
	if code != http.StatusCreated {
		t.Fatalf("approve: %d %s", code, b)
	}
	var out struct{ Document capDocDTO }
	must(t, json.Unmarshal(b, &out))
	if hdr.Get("Location") != out.Document.URL {
		t.Errorf("Location %q, document url %q", hdr.Get("Location"), out.Document.URL)
	}
	return out.Document
}

// document fetches /cap/{id}.xml without a token, validates it against
// the OASIS schema and parses it.
func (s *capStack) document(t *testing.T, id string) (*cap.Alert, []byte) {
	t.Helper()
	code, b, hdr := s.call(t, http.MethodGet, "/cap/"+id+".xml", "", "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), cap.ContentType) {
		t.Fatalf("GET /cap/%s.xml without a token: %d %s %s", id, code, hdr.Get("Content-Type"), b)
	}
	captest.Validate(t, id, b)
	a, err := cap.Parse(b)
	must(t, err)
	return a, b
}

// roleTokensFile writes a tokens file with one token per role.
func roleTokensFile(t *testing.T, dir string) (map[string]string, string) {
	t.Helper()
	secrets := map[string]string{}
	var y strings.Builder
	for _, r := range auth.Roles() {
		tok, hash, err := auth.NewToken()
		must(t, err)
		secrets[r.String()] = tok
		fmt.Fprintf(&y, "- {name: %s-user, role: %s, token_hash: %s, created: 2026-10-14T08:00:00Z}\n", r, r, hash)
	}
	path := filepath.Join(dir, "tokens.yaml")
	must(t, os.WriteFile(path, []byte(y.String()), 0o600))
	return secrets, path
}

// station publishes water levels of VG-AINGHIA to the embedded broker.
type station struct {
	c   mqtt.Client
	seq uint64
}

func newStation(t *testing.T, addr string) *station {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(e2eStation + "-cap").SetCleanSession(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("station: mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &station{c: c}
}

// level publishes v twice (a jump of a metre or more is a suspect spike
// until a second reading confirms it).
func (s *station) level(t *testing.T, v float64) {
	t.Helper()
	for range 2 {
		s.seq++
		msg := fmt.Sprintf(`{"v":1,"station":%q,"seq":%d,"ts":%q,"readings":[{"sensor":"water_level","value":%.3f,"unit":"m"}]}`,
			e2eStation, s.seq, time.Now().UTC().Format(time.RFC3339Nano), v)
		tok := s.c.Publish("stations/"+e2eStation+"/readings", 1, false, msg)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish seq %d: %v", s.seq, tok.Error())
		}
	}
}

// The publish log is a file in the data dir (one replica) or the topic
// <prefix>cap.log (replicas): both keep what was issued across a restart.
func TestE2ECAPPublicWarnings(t *testing.T) {
	for _, kind := range []string{"file", "kafka"} {
		t.Run(kind, func(t *testing.T) { testE2ECAP(t, kind) })
	}
}

func testE2ECAP(t *testing.T, logKind string) {
	dataDir := t.TempDir()
	tokens, tokensFile := roleTokensFile(t, t.TempDir())
	s := startCAPStack(t, dataDir, logKind, tokens, tokensFile)
	st := newStation(t, s.cfg.MQTT.Embedded.Listen)

	// 1. Above BĐ II (Severe, the minimum): a draft Alert, for publishers
	// only.
	st.level(t, 8.5)
	d := s.waitDraft(t, "a draft Alert at level 2", func(d capDraftDTO) bool { return d.MsgType == "Alert" && d.Event.Level == 2 })
	for role, want := range map[string]int{"": http.StatusUnauthorized, "viewer": http.StatusForbidden, "operator": http.StatusForbidden,
		"publisher": http.StatusOK, "admin": http.StatusOK} {
		if code, b, _ := s.call(t, http.MethodGet, "/api/v1/cap/drafts/"+d.AlertID, role, ""); code != want {
			t.Errorf("GET the draft as %q: %d, want %d (%s)", role, code, want, b)
		}
		if role != "publisher" && role != "admin" {
			if code, _, _ := s.call(t, http.MethodPost, "/api/v1/cap/drafts/"+d.AlertID+"/approve", role, "{}"); code != want {
				t.Errorf("approve as %q: %d, want %d", role, code, want)
			}
		}
	}
	_, b, _ := s.call(t, http.MethodGet, "/api/v1/cap/drafts/"+d.AlertID, "publisher", "")
	var one struct{ Preview string }
	must(t, json.Unmarshal(b, &one))
	captest.Validate(t, "preview", []byte(one.Preview))
	doc1 := s.approve(t, d.AlertID, `{"texts":{"vi":{"instruction":"Người dân vùng trũng Đại Lộc chuẩn bị sơ tán."}}}`)
	if doc1.ApprovedBy != "publisher-user" || doc1.MsgType != "Alert" || doc1.URL != "https://canhbao.example/cap/"+doc1.Identifier+".xml" {
		t.Fatalf("issued %+v", doc1)
	}
	a1, _ := s.document(t, doc1.Identifier)
	if a1.MsgType != cap.MsgAlert || a1.Info[0].Language != cap.LangVI || a1.Info[1].Language != cap.LangEN ||
		a1.Info[0].Instruction != "Người dân vùng trũng Đại Lộc chuẩn bị sơ tán." || a1.Info[0].Area[0].AreaDesc != "Đại Lộc (Ái Nghĩa)" {
		t.Fatalf("document 1: %+v", a1)
	}

	// 2. Above BĐ III: an Update referencing the Alert.
	st.level(t, 9.5)
	d = s.waitDraft(t, "a draft Update at level 3", func(d capDraftDTO) bool { return d.MsgType == "Update" && d.Event.Level == 3 })
	if len(d.References) != 1 || d.References[0] != doc1.Identifier {
		t.Fatalf("update draft references %v, want [%s]", d.References, doc1.Identifier)
	}
	doc2 := s.approve(t, d.AlertID, "")
	a2, _ := s.document(t, doc2.Identifier)
	if a2.MsgType != cap.MsgUpdate || a2.References != cap.RefOf(a1).String() || a2.Info[0].Severity != cap.SeverityExtreme {
		t.Fatalf("document 2: %s references %q severity %s, want Update %q Extreme", a2.MsgType, a2.References, a2.Info[0].Severity, cap.RefOf(a1).String())
	}

	// 3. Below BĐ I: the all-clear draft, pending across a restart.
	st.level(t, 5.0)
	s.waitDraft(t, "the all-clear draft", func(d capDraftDTO) bool { return d.AllClear && d.MsgType == "Update" })
	if _, err := os.Stat(filepath.Join(dataDir, "publish", "cap.log")); (err == nil) != (logKind == "file") {
		t.Fatalf("publish.log.kind %s: data_dir/publish/cap.log: %v", logKind, err)
	}
	_, before1, _ := s.call(t, http.MethodGet, "/cap/"+doc1.Identifier+".xml", "", "")
	_, before2, _ := s.call(t, http.MethodGet, "/cap/"+doc2.Identifier+".xml", "", "")
	s.stop(t)
	s = startCAPStack(t, dataDir, logKind, tokens, tokensFile)
	for id, before := range map[string][]byte{doc1.Identifier: before1, doc2.Identifier: before2} {
		if _, after := s.document(t, id); !bytes.Equal(after, before) {
			t.Errorf("document %s changed across the restart", id)
		}
	}
	d = s.waitDraft(t, "the all-clear draft after the restart", func(d capDraftDTO) bool { return d.AllClear })
	if len(d.References) != 2 {
		t.Fatalf("all-clear draft references %v, want both documents", d.References)
	}
	doc3 := s.approve(t, d.AlertID, "")
	a3, _ := s.document(t, doc3.Identifier)
	if want := cap.RefOf(a1).String() + " " + cap.RefOf(a2).String(); a3.MsgType != cap.MsgUpdate || a3.References != want ||
		a3.Info[0].ResponseType[0] != cap.ResponseAllClear || a3.Info[1].Urgency != cap.UrgencyPast {
		t.Fatalf("all-clear: %s references %q response %v urgency %s, want Update %q AllClear Past",
			a3.MsgType, a3.References, a3.Info[0].ResponseType, a3.Info[1].Urgency, want)
	}
	if ds := s.drafts(t); len(ds) != 0 {
		t.Fatalf("drafts after the all-clear: %+v", ds)
	}

	// 4. The feed: public, Atom, newest first, every document linked.
	code, body, hdr := s.call(t, http.MethodGet, "/cap/feed.atom", "", "")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("GET /cap/feed.atom: %d %s", code, hdr.Get("Content-Type"))
	}
	var feed publish.Feed
	if err := xml.Unmarshal(body, &feed); err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, body)
	}
	if feed.ID != "https://canhbao.example/cap/feed.atom" || len(feed.Entries) != 3 || feed.Updated != feed.Entries[0].Updated {
		t.Fatalf("feed %+v", feed)
	}
	for i, doc := range []capDocDTO{doc3, doc2, doc1} {
		e := feed.Entries[i]
		if e.ID != doc.URL || len(e.Links) != 1 || e.Links[0].Href != doc.URL || e.Links[0].Type != cap.ContentType {
			t.Errorf("entry %d %+v, want %s", i, e, doc.URL)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			t.Errorf("entry %d updated %q: %v", i, e.Updated, err)
		}
	}
}

// Two alerts replicas share the publish log (publish.log.kind: kafka):
// both draft the same warning, two publishers approving it at once on the
// two replicas issue ONE document, which both serve with the same bytes;
// a discard on one drops the draft on the other.
func TestE2ECAPTwoReplicas(t *testing.T) {
	tokens, tokensFile := roleTokensFile(t, t.TempDir())
	kafkaAddr := freeAddr(t)
	a := startCAPStackMode(t, ModeRun, t.TempDir(), "kafka", tokens, tokensFile, func(c *Config) { c.Kafka.Embedded.Listen = kafkaAddr })
	b := startCAPStackMode(t, ModeAlerts, t.TempDir(), "kafka", tokens, tokensFile, func(c *Config) { c.Kafka.Brokers = []string{kafkaAddr} })
	st := newStation(t, a.cfg.MQTT.Embedded.Listen)

	st.level(t, 8.5)
	da := a.waitDraft(t, "replica A drafts the Alert", func(d capDraftDTO) bool { return d.MsgType == "Alert" })
	b.waitDraft(t, "replica B drafts the Alert", func(d capDraftDTO) bool { return d.AlertID == da.AlertID && d.MsgType == "Alert" })

	type answer struct {
		code int
		body []byte
		err  error
	}
	answers := make(chan answer, 2)
	for _, s := range []*capStack{a, b} {
		go func() {
			code, body, _, err := s.try(http.MethodPost, "/api/v1/cap/drafts/"+da.AlertID+"/approve", "publisher", "")
			answers <- answer{code, body, err}
		}()
	}
	var won []byte
	for range 2 {
		ans := <-answers
		must(t, ans.err)
		switch ans.code {
		case http.StatusCreated:
			if won != nil {
				t.Fatalf("both replicas issued the warning:\n%s\n%s", won, ans.body)
			}
			won = ans.body
		case http.StatusConflict, http.StatusNotFound:
			// lost the race in the log, or saw the winner before approving
		default:
			t.Fatalf("approve: %d %s", ans.code, ans.body)
		}
	}
	if won == nil {
		t.Fatal("no replica issued the warning")
	}
	var doc struct{ Document capDocDTO }
	must(t, json.Unmarshal(won, &doc))
	id := doc.Document.Identifier
	var docA []byte
	waitUntil(t, "replica A serves the document", 90*time.Second, func() bool {
		code, body, _ := a.call(t, http.MethodGet, "/cap/"+id+".xml", "", "")
		docA = body
		return code == http.StatusOK
	})
	waitUntil(t, "replica B serves the same bytes", 90*time.Second, func() bool {
		code, body, _ := b.call(t, http.MethodGet, "/cap/"+id+".xml", "", "")
		return code == http.StatusOK && bytes.Equal(body, docA)
	})
	captest.Validate(t, id, docA)
	for name, s := range map[string]*capStack{"A": a, "B": b} {
		_, body, _ := s.call(t, http.MethodGet, "/cap/feed.atom", "", "")
		var feed publish.Feed
		must(t, xml.Unmarshal(body, &feed))
		if len(feed.Entries) != 1 || feed.Entries[0].ID != doc.Document.URL {
			t.Errorf("replica %s feed entries %+v, want one: %s", name, feed.Entries, doc.Document.URL)
		}
		if ds := s.drafts(t); len(ds) != 0 {
			t.Errorf("replica %s drafts after the approval: %+v", name, ds)
		}
	}

	// The escalation's Update drafted on both, discarded on B: gone on A.
	st.level(t, 9.5)
	a.waitDraft(t, "replica A drafts the Update", func(d capDraftDTO) bool { return d.MsgType == "Update" })
	b.waitDraft(t, "replica B drafts the Update", func(d capDraftDTO) bool { return d.MsgType == "Update" })
	if code, body, _ := b.call(t, http.MethodPost, "/api/v1/cap/drafts/"+da.AlertID+"/discard", "publisher", `{"reason":"already announced on the radio"}`); code != http.StatusOK {
		t.Fatalf("discard on B: %d %s", code, body)
	}
	waitUntil(t, "replica A drops the discarded draft", 90*time.Second, func() bool { return len(a.drafts(t)) == 0 })
}
