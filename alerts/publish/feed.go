package publish

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/resilience-project/resilience/alerts/cap"
)

// AtomNamespace is the Atom 1.0 namespace.
const AtomNamespace = "http://www.w3.org/2005/Atom"

// Feed is an Atom feed (the elements written here).
type Feed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  *Person  `xml:"author,omitempty"`
	Links   []Link   `xml:"link"`
	Entries []Entry  `xml:"entry"`
}

// Person is an Atom author.
type Person struct {
	Name string `xml:"name"`
}

// Link is an Atom link.
type Link struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

// Entry is one Atom entry: one issued CAP document.
type Entry struct {
	ID      string `xml:"id"`
	Title   string `xml:"title"`
	Updated string `xml:"updated"`
	Summary string `xml:"summary,omitempty"`
	Links   []Link `xml:"link"`
}

// FeedConfig names the feed.
type FeedConfig struct {
	// BaseURL is the public URL the handler is mounted under (e.g.
	// "https://canhbao.danang.gov.vn"); entry ids and links are
	// BaseURL + "/cap/{identifier}.xml".
	BaseURL string
	// Title of the feed (default "Cảnh báo thiên tai / Public warnings").
	Title string
	// Author (default the CAP sender).
	Author string
	// MaxEntries bounds the feed (default 100).
	MaxEntries int
}

// DocURL is the URL of the document with identifier id.
func (c FeedConfig) DocURL(id string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + "/cap/" + id + ".xml"
}

// FeedURL is the URL of the feed.
func (c FeedConfig) FeedURL() string { return strings.TrimSuffix(c.BaseURL, "/") + "/cap/feed.atom" }

// BuildFeed is the Atom feed of recs (newest first). updated is the newest
// document's sent time (the Unix epoch for an empty feed, so the feed is a
// function of what was issued).
func BuildFeed(c FeedConfig, author string, recs []Record) Feed {
	if c.Title == "" {
		c.Title = "Cảnh báo thiên tai / Public warnings"
	}
	if c.Author != "" {
		author = c.Author
	}
	f := Feed{
		ID: c.FeedURL(), Title: c.Title, Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
		Links: []Link{{Rel: "self", Type: "application/atom+xml", Href: c.FeedURL()}},
	}
	if author != "" {
		f.Author = &Person{Name: author}
	}
	for i, r := range recs {
		up := r.Sent.UTC().Format(time.RFC3339)
		if i == 0 {
			f.Updated = up
		}
		f.Entries = append(f.Entries, Entry{
			ID: c.DocURL(r.Identifier), Title: r.Headline, Updated: up,
			Summary: string(r.MsgType) + " " + r.Identifier,
			Links:   []Link{{Rel: "alternate", Type: cap.ContentType, Href: c.DocURL(r.Identifier)}},
		})
	}
	return f
}

// MarshalFeed writes f as an XML document.
func MarshalFeed(f Feed) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Handler serves GET /cap/feed.atom and GET /cap/{identifier}.xml.
type Handler struct {
	p   *Publisher
	c   FeedConfig
	mux *http.ServeMux
}

// NewHandler serves p's issued documents.
func NewHandler(p *Publisher, c FeedConfig) *Handler {
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100
	}
	h := &Handler{p: p, c: c, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /cap/{file}", h.serve)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file == "feed.atom" {
		h.feed(w)
		return
	}
	id, ok := strings.CutSuffix(file, ".xml")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rec, ok := h.p.Document(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", cap.ContentType+"; charset=utf-8")
	w.Header().Set("Last-Modified", rec.Sent.UTC().Format(http.TimeFormat))
	_, _ = w.Write(rec.Doc)
}

func (h *Handler) feed(w http.ResponseWriter) {
	b, err := MarshalFeed(BuildFeed(h.c, h.p.o.Builder.Sender(), h.p.Issued(h.c.MaxEntries)))
	if err != nil {
		http.Error(w, "feed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	_, _ = w.Write(b)
}
