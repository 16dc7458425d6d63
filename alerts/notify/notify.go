package notify

import (
	"context"
	"errors"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

// Notifier delivers one alert event to a channel. Notify must be safe for
// concurrent use; a returned error is retried by the caller.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, a store.Alert, e schemas.AlertEvent) error
}

// Sentinel errors a Channel's Send may wrap.
var (
	// ErrPermanent: retrying cannot help (e.g. a webhook answered 4xx, a
	// mailbox does not exist); the notification is abandoned.
	ErrPermanent = errors.New("permanent notification failure")
	// ErrUnconfirmed: the message went out but the device did not confirm
	// it in time (a siren's missing ack); it is retried and the group
	// escalates to its next tier at once.
	ErrUnconfirmed = errors.New("notification not confirmed by the device")
)
