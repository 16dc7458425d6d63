package publish_test

import (
	"testing"

	"go.uber.org/goleak"
)

// KafkaLog.Follow and Publisher.Run start readers; after they return none
// may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
