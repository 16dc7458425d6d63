package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// APIToken is the operator API token of the processes StartProc starts:
// each gets a tokens file of its own (next to its log) in which this token
// is an admin named APITokenName, unless its spec already sets
// RESILIENCE_HTTP_TOKENS_FILE. It opens nothing else: a deployment's
// tokens file never holds it.
const APIToken = "rsl_harness-test-token-not-a-secret-0000000000"

// APITokenName is the name the API records for APIToken (the acting user
// of an action, the actor in the audit log).
const APITokenName = "harness"

// Authorize adds APIToken to r.
func Authorize(r *http.Request) { r.Header.Set("Authorization", "Bearer "+APIToken) }

// tokensEnv writes a tokens file holding APIToken at path and returns the
// environment entry that points the process at it, or "" when env already
// names a tokens file.
func tokensEnv(env []string, path string) (string, error) {
	for _, e := range env {
		if strings.HasPrefix(e, "RESILIENCE_HTTP_TOKENS_FILE=") {
			return "", nil
		}
	}
	sum := sha256.Sum256([]byte(APIToken))
	line := fmt.Sprintf("- {name: %s, role: admin, token_hash: %s, created: 2026-01-01T00:00:00Z}\n", APITokenName, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("harness: tokens file: %w", err)
	}
	return "RESILIENCE_HTTP_TOKENS_FILE=" + path, nil
}
