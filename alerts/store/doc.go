// Package store keeps the lifecycle of every alert: firing (with its current
// level) until a resolved event, with the events that made it, deduplicated
// by EventID. It is safe for concurrent use.
package store
