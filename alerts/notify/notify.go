package notify

import (
	"context"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

// Notifier delivers one alert event to a channel. Notify must be safe for
// concurrent use; a returned error is retried by the caller.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, a store.Alert, e schemas.AlertEvent) error
}
