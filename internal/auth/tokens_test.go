package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

const goodHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestParseTokens(t *testing.T) {
	other := auth.HashToken("other")
	tests := []struct {
		name    string
		yaml    string
		wantN   int
		wantErr []string // substrings, each naming a key
	}{
		{"valid", "- {name: ana, role: admin, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n" +
			"- {name: ops.1, role: viewer, token_hash: " + other + ", created: 2026-10-14T08:00:00+07:00}\n", 2, nil},
		{"empty file", "", 0, nil},
		{"bad role", "- {name: ana, role: boss, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{`tokens.yaml: [0].role: "boss" is not a role`}},
		{"token instead of hash", "- {name: ana, role: admin, token_hash: rsl_abc, created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{"[0].token_hash: want the SHA-256"}},
		{"bcrypt hash", "- {name: ana, role: admin, token_hash: '$2a$10$abcdefghijklmnopqrstuv', created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{"[0].token_hash"}},
		{"upper-case hex", "- {name: ana, role: admin, token_hash: " + strings.ToUpper(goodHash) + ", created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{"[0].token_hash"}},
		{"bad name", "- {name: 'Ana Smith', role: admin, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{"[0].name"}},
		{"missing created", "- {name: ana, role: admin, token_hash: " + goodHash + "}\n", 0, []string{"[0].created"}},
		{"duplicate name and hash", "- {name: ana, role: admin, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n" +
			"- {name: ana, role: viewer, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{`[1].name: "ana" already at [0]`, "[1].token_hash: the same token as [0]"}},
		{"unknown key", "- {name: ana, role: admin, token: x, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n", 0,
			[]string{"field token not found"}},
		{"not a list", "name: ana\n", 0, []string{"tokens.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := auth.Parse([]byte(tt.yaml), "tokens.yaml")
			if tt.wantErr == nil {
				if err != nil || len(toks) != tt.wantN {
					t.Fatalf("Parse = %d tokens, %v; want %d, nil", len(toks), err, tt.wantN)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalidTokens) {
				t.Fatalf("Parse err = %v, want ErrInvalidTokens", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(path, []byte("- {name: ana, role: publisher, token_hash: "+goodHash+", created: 2026-10-14T08:00:00Z}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := auth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].Name != "ana" || toks[0].Role != auth.RolePublisher || toks[0].Created.IsZero() {
		t.Fatalf("Load = %+v", toks)
	}
	if _, err := auth.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "tokens file") {
		t.Fatalf("Load of a missing file = %v", err)
	}
}

func TestNewToken(t *testing.T) {
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	tok2, _, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, auth.TokenPrefix) || len(tok) != len(auth.TokenPrefix)+43 || tok == tok2 {
		t.Fatalf("NewToken = %q, %q: want distinct %s + 43 base64url characters", tok, tok2, auth.TokenPrefix)
	}
	if hash != auth.HashToken(tok) {
		t.Fatalf("hash %s is not HashToken(token) %s", hash, auth.HashToken(tok))
	}
	if auth.HashToken("test") != goodHash {
		t.Fatalf("HashToken(test) = %s, want the SHA-256 %s", auth.HashToken("test"), goodHash)
	}
	// The pair goes into a tokens file as is.
	if _, err := auth.Parse([]byte("- {name: x, role: viewer, token_hash: "+hash+", created: 2026-10-14T08:00:00Z}\n"), "t"); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: Parse never panics; what it accepts has valid roles and
// distinct names.
func FuzzParse(f *testing.F) {
	f.Add([]byte("- {name: ana, role: admin, token_hash: " + goodHash + ", created: 2026-10-14T08:00:00Z}\n"))
	f.Add([]byte("- name: a\n  role: viewer\n"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		toks, err := auth.Parse(b, "f")
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidTokens) {
				t.Fatalf("err %v does not match ErrInvalidTokens", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, tk := range toks {
			if tk.Role < auth.RoleViewer || tk.Role > auth.RoleAdmin || seen[tk.Name] || tk.Name == "" {
				t.Fatalf("accepted %+v", tk)
			}
			seen[tk.Name] = true
		}
	})
}
