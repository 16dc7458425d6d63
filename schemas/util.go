package schemas

import (
	"bytes"
	"unicode/utf8"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// truncate shortens s to at most n bytes (on a rune boundary) for use in a
// rejection detail, so that a hostile payload cannot blow up logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
