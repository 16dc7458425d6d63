package alerts

import (
	"testing"

	"github.com/resilience-project/resilience/internal/retry"
)

// TestFetchRetryPolicyKeepsUpWithReader: after a failed FetchMessage the
// service never waits longer than the partition reader's shortest pause
// between two queued errors, so stale errors cannot pile up in the reader's
// queue during a Kafka outage (chaos F5: the alerts store lagged more than
// a minute behind after Kafka came back).
func TestFetchRetryPolicyKeepsUpWithReader(t *testing.T) {
	p := fetchRetryPolicy(nil)
	for _, attempt := range []int{1, 2, 3, 5, 10, 50, 100, 1000} {
		if w := retry.Backoff(attempt, p.Min, p.Max); w > readerBackoffMin || w <= 0 {
			t.Errorf("attempt %d: wait %s, want in (0, %s]", attempt, w, readerBackoffMin)
		}
	}
	if p.Attempts != 0 {
		t.Errorf("Attempts %d: fetching must retry until the service stops", p.Attempts)
	}
}
