package httpapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
)

// The OpenAPI 3 document is split in fragments, one per owner, merged at
// load: openapi/core.json holds the document's head and the core routes;
// every other openapi/*.json is {"paths": {…}, "components": {"schemas":
// {…}}} and may not redefine a path or schema another fragment has.
//
//go:embed openapi/*.json
var openapiFS embed.FS

// OpenAPI returns the merged OpenAPI document (JSON).
func OpenAPI() ([]byte, error) {
	doc, err := readFragment("openapi/core.json")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(openapiFS, "openapi/*.json")
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "openapi/core.json" {
			continue
		}
		frag, err := readFragment(name)
		if err != nil {
			return nil, err
		}
		for key, sect := range map[string][]string{"paths": {"paths"}, "schemas": {"components", "schemas"}} {
			if err := mergeSection(doc, frag, sect); err != nil {
				return nil, fmt.Errorf("openapi: %s: %s: %w", name, key, err)
			}
		}
	}
	return json.Marshal(doc)
}

func readFragment(name string) (map[string]any, error) {
	b, err := openapiFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", name, err)
	}
	return m, nil
}

// mergeSection copies the members of frag at path into doc at path,
// refusing a member doc already has.
func mergeSection(doc, frag map[string]any, path []string) error {
	src := dig(frag, path, false)
	if src == nil {
		return nil
	}
	dst := dig(doc, path, true)
	for k, v := range src {
		if _, dup := dst[k]; dup {
			return fmt.Errorf("%q is already defined", k)
		}
		dst[k] = v
	}
	return nil
}

// dig walks m along path (creating the objects when create is set).
func dig(m map[string]any, path []string, create bool) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			if !create {
				return nil
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	return m
}

// openapi serves the merged document.
func (s *Server) openapi() http.Handler {
	doc, err := OpenAPI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			s.o.Logger.Error("openapi document", "err", err)
			writeError(w, r, http.StatusInternalServerError, "the OpenAPI document is broken")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(doc)
	})
}
