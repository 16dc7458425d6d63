// Package httpapi serves the operator HTTP API: health (/healthz, /readyz),
// Prometheus metrics (/metrics) and JSON endpoints for stations, recent
// readings and alerts. It listens on 127.0.0.1:8080 by default; exposing it
// wider is a deliberate configuration change (put it behind a reverse proxy
// with authentication).
package httpapi
