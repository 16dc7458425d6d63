// Package notify defines how the alerts service hands an alert event to a
// notification channel; each channel is a subpackage (lognotify today).
package notify
