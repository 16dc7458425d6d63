package schemas

// A small JSON Schema (draft 2020-12) validator for the subset of keywords
// used by schemas/json/*.schema.json, so that the examples and the Go types
// can be checked against the schema files without a validator dependency.
// compileCheck rejects any keyword it does not implement, so a schema can't
// silently use a keyword these tests ignore. "format": "date-time" is
// asserted (RFC 3339), not just annotated.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const draft202012 = "https://json-schema.org/draft/2020-12/schema"

type jsonSchema struct {
	root map[string]any
}

// decodeJSON decodes JSON keeping numbers exact (json.Number).
// Like the decoder (and RFC 8259), it rejects invalid UTF-8, which
// encoding/json would silently replace, and, like the decoder (RFC 7493
// I-JSON), a member name twice in one object, where encoding/json would
// keep the last and other validators the first.
func decodeJSON(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("invalid UTF-8")
	}
	if err := uniqueNames(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// uniqueNames walks data with json.Decoder.Token, independently of the
// decoder's scanner, and reports the first member name that occurs twice
// in one object, at any level. Syntax errors are left to the caller's
// decoding.
func uniqueNames(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type level struct {
		names   map[string]bool // nil for an array
		wantKey bool
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		top := len(stack) - 1
		inObject := top >= 0 && stack[top].names != nil
		if d, ok := tok.(json.Delim); inObject && ok && d == '}' {
			stack = stack[:top]
			continue
		}
		isKey := inObject && stack[top].wantKey
		if inObject {
			stack[top].wantKey = !stack[top].wantKey
		}
		if isKey {
			name := tok.(string)
			if stack[top].names[name] {
				return fmt.Errorf("member %q twice in one object", name)
			}
			stack[top].names[name] = true
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, level{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

func loadSchema(path string) (*jsonSchema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not an object", path)
	}
	s := &jsonSchema{root: root}
	if err := s.compileCheck(root, "#"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

var knownKeywords = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$ref": true, "$comment": true,
	"title": true, "description": true, "examples": true, "default": true, "deprecated": true,
	"contentEncoding": true, "contentMediaType": true,
	"type": true, "const": true, "enum": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "minItems": true, "maxItems": true,
	"maxProperties": true, "contains": true, "minContains": true, "maxContains": true,
	"items": true, "properties": true, "required": true, "additionalProperties": true, "propertyNames": true,
	"anyOf": true, "oneOf": true, "allOf": true, "not": true, "if": true, "then": true, "else": true,
}

// compileCheck walks a schema: every keyword known, every $ref resolvable,
// every pattern a valid regexp.
func (s *jsonSchema) compileCheck(node any, at string) error {
	if _, ok := node.(bool); ok {
		return nil
	}
	m, ok := node.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema must be an object or boolean", at)
	}
	for k, v := range m {
		if !knownKeywords[k] {
			return fmt.Errorf("%s: keyword %q not supported by the test validator", at, k)
		}
		switch k {
		case "$ref":
			ref, _ := v.(string)
			if _, err := s.resolve(ref); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		case "pattern":
			p, _ := v.(string)
			if _, err := regexp.Compile(p); err != nil {
				return fmt.Errorf("%s: pattern: %w", at, err)
			}
		case "$defs", "properties":
			for name, sub := range v.(map[string]any) {
				if err := s.compileCheck(sub, at+"/"+k+"/"+name); err != nil {
					return err
				}
			}
		case "items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains":
			if err := s.compileCheck(v, at+"/"+k); err != nil {
				return err
			}
		case "anyOf", "oneOf", "allOf":
			for i, sub := range v.([]any) {
				if err := s.compileCheck(sub, fmt.Sprintf("%s/%s/%d", at, k, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *jsonSchema) resolve(ref string) (any, error) {
	if ref == "#" {
		return s.root, nil
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q: only local refs are supported", ref)
	}
	var cur any = s.root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

// Validate returns the first violation, or nil.
func (s *jsonSchema) Validate(v any) error { return s.validate(s.root, v, "") }

func num(v any) (*big.Float, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, _, err := big.ParseFloat(string(n), 10, 256, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f, true
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if f, ok := num(x); ok && f.IsInt() {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(want string, v any) bool {
	got := jsonType(v)
	return got == want || (want == "number" && got == "integer")
}

func jsonEqual(a, b any) bool {
	fa, oka := num(a)
	fb, okb := num(b)
	if oka || okb {
		return oka && okb && fa.Cmp(fb) == 0
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !jsonEqual(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func (s *jsonSchema) validate(schema any, v any, at string) error {
	if b, ok := schema.(bool); ok {
		if !b {
			return fmt.Errorf("%s: false schema", at)
		}
		return nil
	}
	m := schema.(map[string]any)
	// Deterministic keyword order for stable messages.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv := m[k]
		switch k {
		case "$ref":
			sub, err := s.resolve(kv.(string))
			if err != nil {
				return err
			}
			if err := s.validate(sub, v, at); err != nil {
				return err
			}
		case "type":
			ok := false
			switch t := kv.(type) {
			case string:
				ok = typeMatches(t, v)
			case []any:
				for _, x := range t {
					ok = ok || typeMatches(x.(string), v)
				}
			}
			if !ok {
				return fmt.Errorf("%s: %s is not of type %v", at, jsonType(v), kv)
			}
		case "const":
			if !jsonEqual(kv, v) {
				return fmt.Errorf("%s: %v is not %v", at, v, kv)
			}
		case "enum":
			found := false
			for _, e := range kv.([]any) {
				found = found || jsonEqual(e, v)
			}
			if !found {
				return fmt.Errorf("%s: %v not in enum", at, v)
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kv.(string)).MatchString(str) {
				return fmt.Errorf("%s: %q does not match %s", at, str, kv)
			}
		case "format":
			if str, ok := v.(string); ok && kv == "date-time" {
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					return fmt.Errorf("%s: %q is not a date-time", at, str)
				}
			}
		case "minimum", "maximum":
			f, ok := num(v)
			if !ok {
				continue
			}
			lim, _ := num(kv)
			if c := f.Cmp(lim); (k == "minimum" && c < 0) || (k == "maximum" && c > 0) {
				return fmt.Errorf("%s: %v violates %s %v", at, v, k, kv)
			}
		case "minLength", "maxLength":
			if str, ok := v.(string); ok {
				n, _ := kv.(json.Number).Int64()
				l := int64(utf8.RuneCountInString(str))
				if (k == "minLength" && l < n) || (k == "maxLength" && l > n) {
					return fmt.Errorf("%s: length %d violates %s %d", at, l, k, n)
				}
			}
		case "minItems", "maxItems":
			if arr, ok := v.([]any); ok {
				n, _ := kv.(json.Number).Int64()
				l := int64(len(arr))
				if (k == "minItems" && l < n) || (k == "maxItems" && l > n) {
					return fmt.Errorf("%s: %d items violates %s %d", at, l, k, n)
				}
			}
		case "maxProperties":
			if obj, ok := v.(map[string]any); ok {
				n, _ := kv.(json.Number).Int64()
				if int64(len(obj)) > n {
					return fmt.Errorf("%s: %d properties violates maxProperties %d", at, len(obj), n)
				}
			}
		case "contains":
			// minContains (default 1) and maxContains bound the number of
			// items that match contains.
			if arr, ok := v.([]any); ok {
				lo, hi := int64(1), int64(-1)
				if x, ok := m["minContains"]; ok {
					lo, _ = x.(json.Number).Int64()
				}
				if x, ok := m["maxContains"]; ok {
					hi, _ = x.(json.Number).Int64()
				}
				var n int64
				for _, x := range arr {
					if s.validate(kv, x, at) == nil {
						n++
					}
				}
				if n < lo || (hi >= 0 && n > hi) {
					return fmt.Errorf("%s: %d items match contains, want %d..%d", at, n, lo, hi)
				}
			}
		case "items":
			if arr, ok := v.([]any); ok {
				for i, x := range arr {
					if err := s.validate(kv, x, fmt.Sprintf("%s/%d", at, i)); err != nil {
						return err
					}
				}
			}
		case "required":
			if obj, ok := v.(map[string]any); ok {
				for _, r := range kv.([]any) {
					if _, ok := obj[r.(string)]; !ok {
						return fmt.Errorf("%s: missing required %q", at, r)
					}
				}
			}
		case "properties":
			if obj, ok := v.(map[string]any); ok {
				for name, sub := range kv.(map[string]any) {
					if x, ok := obj[name]; ok {
						if err := s.validate(sub, x, at+"/"+name); err != nil {
							return err
						}
					}
				}
			}
		case "additionalProperties":
			if obj, ok := v.(map[string]any); ok {
				props, _ := m["properties"].(map[string]any)
				for name, x := range obj {
					if _, declared := props[name]; declared {
						continue
					}
					if err := s.validate(kv, x, at+"/"+name); err != nil {
						return fmt.Errorf("%s: additional property %q: %w", at, name, err)
					}
				}
			}
		case "propertyNames":
			if obj, ok := v.(map[string]any); ok {
				for name := range obj {
					if err := s.validate(kv, name, at+"/"+name); err != nil {
						return err
					}
				}
			}
		case "allOf":
			for _, sub := range kv.([]any) {
				if err := s.validate(sub, v, at); err != nil {
					return err
				}
			}
		case "anyOf", "oneOf":
			n := 0
			var first error
			for _, sub := range kv.([]any) {
				if err := s.validate(sub, v, at); err == nil {
					n++
				} else if first == nil {
					first = err
				}
			}
			if n == 0 {
				return fmt.Errorf("%s: matches none of %s (first: %v)", at, k, first)
			}
			if k == "oneOf" && n > 1 {
				return fmt.Errorf("%s: matches %d of oneOf", at, n)
			}
		case "not":
			if s.validate(kv, v, at) == nil {
				return fmt.Errorf("%s: matches not", at)
			}
		case "if":
			if s.validate(kv, v, at) == nil {
				if then, ok := m["then"]; ok {
					if err := s.validate(then, v, at); err != nil {
						return err
					}
				}
			} else if els, ok := m["else"]; ok {
				if err := s.validate(els, v, at); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// TestSchemaAndDecoderAgree feeds the strictness cases to both the JSON
// Schema files (through the validator above, whose reader rejects a member
// name twice) and the decoder. Where the schema can express the rule
// (schemaRejects) both must reject; where only the decoder can (registry,
// cross-record rules) the schema must accept, so the split is explicit.
// Accepted cases must be accepted by both.
func TestSchemaAndDecoderAgree(t *testing.T) {
	v1 := `"v":1,"station":"ST-1","seq":7,"ts":"2025-10-28T02:50:00Z"`
	wlr := `{"sensor":"water_level","value":7.12,"unit":"m"}`
	rain := `{"sensor":"rainfall","value":1}`
	obj := func(extra string) string { return `{` + v1 + `,"readings":[` + wlr + `]` + extra + `}` }
	d := testDecoder(t)
	reading := mustSchema(t, "reading-v1.schema.json")
	senml := mustSchema(t, "senml.schema.json")
	for _, c := range []struct {
		name          string
		senml         bool
		payload       string
		reason        Reason // "" accepted by both
		schemaRejects bool
	}{
		{"plain", false, obj(``), "", false},
		{"two sensors, rssi, battery", false, `{` + v1 + `,"readings":[` + wlr + `,` + rain + `],"rssi":-200,"battery":3.9}`, "", false},
		{"duplicate top-level member", false, obj(`,"seq":8`), ReasonDuplicateKey, true},
		{"duplicate member in a reading", false, `{` + v1 + `,"readings":[{"sensor":"water_level","value":7,"value":900}]}`, ReasonDuplicateKey, true},
		{"duplicate via escape", false, `{"\u0076":1,` + v1 + `,"readings":[` + wlr + `]}`, ReasonDuplicateKey, true},
		{"duplicate in a batch", false, `[` + obj(``) + `,` + obj(`,"boot":1,"boot":1`) + `]`, ReasonDuplicateKey, true},
		{"Station capitalised", false, `{"v":1,"Station":"ST-1","seq":7,"ts":1761619800000,"readings":[` + wlr + `]}`, ReasonUnknownField, true},
		{"Value capitalised", false, `{` + v1 + `,"readings":[{"sensor":"water_level","Value":7}]}`, ReasonUnknownField, true},
		{"unknown member", false, obj(`,"pad":1`), ReasonUnknownField, true},
		{"same sensor twice", false, `{` + v1 + `,"readings":[` + wlr + `,` + wlr + `]}`, ReasonDuplicateSensor, true},
		{"rssi -201", false, obj(`,"rssi":-201`), ReasonOutOfBounds, true},
		{"rssi 1", false, obj(`,"rssi":1`), ReasonOutOfBounds, true},
		{"boot null", false, obj(`,"boot":null`), ReasonBadJSON, true},
		{"battery null", false, obj(`,"battery":null`), ReasonBadJSON, true},
		{"readings null", false, `{` + v1 + `,"readings":null,"battery":3.9}`, ReasonBadJSON, true},
		{"deep nesting", false, strings.Repeat("[", 5000), ReasonBadJSON, true},
		{"undeclared sensor (registry)", false, `{` + v1 + `,"readings":[{"sensor":"tilt","value":1}]}`, ReasonUndeclaredSensor, false},
		{"same sensor same ms across a batch", false, `[` + obj(``) + `,` + strings.Replace(obj(``), `"seq":7`, `"seq":8`, 1) + `]`, ReasonDuplicateSensor, false},

		{"senml plain", true, `[{"bn":"ST-1:","n":"water_level","v":7,"bver":10,"x":"ext"}]`, "", false},
		{"senml 31 members", true, `[{"n":"water_level","v":7` + extLabels(29) + `}]`, "", false},
		{"senml duplicate v", true, `[{"n":"water_level","v":7,"v":900}]`, ReasonDuplicateKey, true},
		{"senml duplicate extension", true, `[{"n":"water_level","v":7,"x":1,"x":1}]`, ReasonDuplicateKey, true},
		{"senml V capitalised", true, `[{"n":"water_level","V":7}]`, ReasonUnknownField, true},
		{"senml N beside n", true, `[{"n":"water_level","v":7,"N":"tilt"}]`, ReasonUnknownField, true},
		{"senml must understand", true, `[{"n":"water_level","v":7,"x_":1}]`, ReasonUnknownField, true},
		{"senml extension object", true, `[{"n":"water_level","v":7,"x":{}}]`, ReasonBadJSON, true},
		{"senml 32 members", true, `[{"n":"water_level","v":7` + extLabels(30) + `}]`, ReasonOversize, true},
		{"senml vb number", true, `[{"n":"water_level","v":7,"vb":1}]`, ReasonBadJSON, true},
		{"senml bver 0", true, `[{"n":"water_level","v":7,"bver":0}]`, ReasonOutOfBounds, true},
		{"senml same name same time", true, `[{"n":"water_level","v":7},{"n":"water_level","v":8}]`, ReasonDuplicateSensor, false},
		{"senml undeclared (registry)", true, `[{"n":"tilt","v":1}]`, ReasonUndeclaredSensor, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic, schema := topic1, reading
			if c.senml {
				topic, schema = senml1, senml
			}
			recs, err := d.Decode(topic, []byte(c.payload), testNow)
			if ReasonOf(err) != c.reason || (err == nil) != (recs != nil) {
				t.Fatalf("decoder: %d records, %v; want %q", len(recs), err, c.reason)
			}
			doc, jerr := decodeJSON([]byte(c.payload))
			serr := jerr
			if jerr == nil {
				serr = schema.Validate(doc)
			}
			wantReject := c.reason != "" && c.schemaRejects
			if (serr != nil) != wantReject {
				t.Fatalf("schema rejects=%v (%v), want %v", serr != nil, serr, wantReject)
			}
		})
	}
}
