package audit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestLogConcurrentAppend starts goroutines; none may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
