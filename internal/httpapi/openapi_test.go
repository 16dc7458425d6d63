package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/resilience-project/resilience/internal/httpapi"
)

// apiDoc is the merged OpenAPI document and its router, loaded once.
type apiDoc struct {
	doc    *openapi3.T
	router routers.Router
	err    error
}

var loadDoc = sync.OnceValue(func() apiDoc {
	b, err := httpapi.OpenAPI()
	if err != nil {
		return apiDoc{err: err}
	}
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(b)
	if err == nil {
		err = doc.Validate(context.Background())
	}
	if err != nil {
		return apiDoc{err: err}
	}
	r, err := legacy.NewRouter(doc)
	return apiDoc{doc: doc, router: r, err: err}
})

// validateResponse checks a test's answer against the OpenAPI document:
// the route must be documented, the status too, and the body must match
// its schema. Only the mux's own 404/405 for a path or method that is not
// mounted are exempt. Every test request goes through it (fixture.do);
// H9b's and H9c's tests can call it too.
func validateResponse(t *testing.T, req *http.Request, reqBody string, rec *httptest.ResponseRecorder) {
	t.Helper()
	d := loadDoc()
	if d.err != nil {
		t.Fatalf("OpenAPI document: %v", d.err)
	}
	if (rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed) && strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		return // the mux: not mounted
	}
	if req.URL.Path == "/" || strings.HasPrefix(req.URL.Path, "/console/") {
		return // the console's static files
	}
	// The router matches the path only (the document names no server).
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(strings.NewReader(reqBody))
	route, params, err := d.router.FindRoute(r)
	if err != nil {
		t.Fatalf("%s %s answered %d but is not in the OpenAPI document: %v", req.Method, req.URL.Path, rec.Code, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %.2000s", req.Method, req.URL.Path, rec.Code, err, rec.Body)
	}
}

// The document loads, validates, and documents exactly the routes of the
// route table (the table is the truth; the document must follow it).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	d := loadDoc()
	if d.err != nil {
		t.Fatal(d.err)
	}
	documented := map[string]bool{}
	for path, item := range d.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, rt := range httpapi.Routes() {
		if rt.Pattern == "/{$}" || strings.HasSuffix(rt.Pattern, "/") {
			continue // the console's static files
		}
		k := rt.Method + " " + rt.Pattern
		if !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("the OpenAPI document has %s, which the route table does not serve", k)
	}
}

// GET /api/v1/openapi.json serves the merged document, without a token.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, req{path: "/api/v1/openapi.json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("= %d %s", rec.Code, rec.Body)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	decode(t, rec, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths["/api/v1/alerts"] == nil {
		t.Fatalf("served document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	b, _ := json.Marshal(doc.Paths)
	if !bytes.Contains(b, []byte("/api/v1/silences/{id}")) {
		t.Error("served document lacks /api/v1/silences/{id}")
	}
}
