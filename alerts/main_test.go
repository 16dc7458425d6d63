package alerts_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The service starts a reader goroutine per partition; after Run returns
// none may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
