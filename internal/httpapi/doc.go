// Package httpapi serves the operator HTTP API: health (/healthz, /readyz),
// Prometheus metrics (/metrics) and JSON endpoints for stations, recent
// readings and alerts. It listens on 127.0.0.1:8080 by default; exposing it
// wider is a deliberate configuration change (put it behind a reverse proxy
// with authentication).
//
// The package sits in the application layer: it imports no component. It
// reads through the small interfaces it declares (StationReader,
// AlertReader, Check, Degradation), which the processor's view, an adapter
// over the alerts store and the components' readiness functions satisfy;
// the station DTOs it serves are schemas.StationStatus and
// schemas.SensorValue.
package httpapi
