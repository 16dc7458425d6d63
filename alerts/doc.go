// Package alerts is the alerts service: it consumes alert events from the
// Kafka `alerts` topic, tracks each alert's lifecycle in the store
// (package alerts/store) and hands live events to notifiers (package
// alerts/notify, one subpackage per notifier).
//
// Startup: the service replays the `alerts` topic from the beginning into
// the store, so the store survives restarts without a database of its own.
// Events replayed from before the service started are not notified again;
// events that arrive after the replay reached the end of the topic are.
// Events are deduplicated by EventID (the processor may produce an event
// twice after a crash; it never produces two different events with one id).
package alerts
