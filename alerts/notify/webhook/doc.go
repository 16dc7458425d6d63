// Package webhook is the notification channel for chat bots and SMS
// gateways: an HTTP POST of JSON, signed with HMAC-SHA256 under a
// per-receiver secret.
//
// Headers:
//
//	X-Resilience-Notification-Id  the notification's idempotency key (alerts/nflog.Key)
//	Idempotency-Key               the same value, for gateways that honour that header
//	X-Resilience-Timestamp        Unix seconds when the request was signed
//	X-Resilience-Signature        v1=hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// A receiver verifies with Verify: the signature, and that the timestamp is
// within the replay window (DefaultWindow, 5 minutes) of its clock; it
// drops a notification id it already processed (a resend after a crash
// carries the same id and body, only a new timestamp and signature).
//
// Status codes: 2xx delivered; 408, 425, 429 and 5xx are retried; any
// other answer is permanent (notify.ErrPermanent) and the notification is
// abandoned.
package webhook
