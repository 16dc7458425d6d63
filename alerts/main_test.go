package alerts_test

import (
	"testing"

	"go.uber.org/goleak"
)

// kafkaxPoolLeak ignores the connection pool that kafkax.EnsureTopics
// leaves behind: it builds a kafka.Transport per call and never calls
// CloseIdleConnections, so a metadata poller ((*connPool).discover) and its
// connections ((*conn).run) outlive the call. kafkax is not this package;
// the service itself is checked without this ignore (see
// TestServiceReplaysThenNotifiesLiveEvents, which snapshots goroutines
// after EnsureTopics and verifies none are left after Run returns).
var kafkaxPoolLeak = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
	goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"),
}

// The service starts a reader goroutine per partition; after Run returns
// none may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, kafkaxPoolLeak...)
}
