package ingest

import (
	"testing"

	"go.uber.org/goleak"
)

// The collector starts goroutines (Run, the MQTT handler callers in the
// tests); every test must leave none behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
