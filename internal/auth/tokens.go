package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalidTokens is matched by every validation error of a tokens file;
// the message names the file and the key.
var ErrInvalidTokens = errors.New("invalid tokens file")

// Token is one entry of the tokens file.
type Token struct {
	Name    string
	Role    Role
	Hash    [sha256.Size]byte
	Created time.Time
}

// tokenLine is the YAML form of a Token.
type tokenLine struct {
	Name      string `yaml:"name"`
	Role      string `yaml:"role"`
	TokenHash string `yaml:"token_hash"`
	Created   string `yaml:"created"`
}

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Load reads and validates a tokens file.
func Load(path string) ([]Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	return Parse(b, path)
}

// Parse validates a tokens file's content; source names it in errors.
// Every problem is reported as "source: [i].key: problem", matching
// ErrInvalidTokens.
func Parse(b []byte, source string) ([]Token, error) {
	var lines []tokenLine
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&lines); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidTokens, source, err)
	}
	var errs []error
	bad := func(i int, key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: [%d].%s: %s", ErrInvalidTokens, source, i, key, fmt.Sprintf(format, args...)))
	}
	names, hashes := map[string]int{}, map[string]int{}
	out := make([]Token, 0, len(lines))
	for i, l := range lines {
		var t Token
		switch j, dup := names[l.Name]; {
		case !nameRE.MatchString(l.Name):
			bad(i, "name", "%q: 1-64 of a-z 0-9 . _ -, starting with a letter or digit", l.Name)
		case dup:
			bad(i, "name", "%q already at [%d]", l.Name, j)
		default:
			names[l.Name] = i
		}
		t.Name = l.Name
		r, err := ParseRole(l.Role)
		if err != nil {
			bad(i, "role", "%v", err)
		}
		t.Role = r
		switch j, dup := hashes[l.TokenHash]; {
		case !hashRE.MatchString(l.TokenHash):
			bad(i, "token_hash", "want the SHA-256 of the token, 64 lowercase hex digits (resilience hash-token), not the token itself")
		case dup:
			bad(i, "token_hash", "the same token as [%d]", j)
		default:
			hashes[l.TokenHash] = i
			hex.Decode(t.Hash[:], []byte(l.TokenHash))
		}
		c, err := time.Parse(time.RFC3339, l.Created)
		if err != nil {
			bad(i, "created", "%q: want an RFC 3339 time such as 2026-10-14T08:00:00Z", l.Created)
		}
		t.Created = c
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// TokenPrefix starts every token NewToken makes, so that secret scanners
// and humans recognise one.
const TokenPrefix = "rsl_"

// NewToken makes a random token (256 bits from crypto/rand) and the hex
// SHA-256 to put in the tokens file as token_hash. Hand the token to its
// holder once; it is not stored anywhere.
func NewToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("auth: new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is the token_hash of token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
