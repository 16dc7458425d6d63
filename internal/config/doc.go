// Package config loads the one configuration of the `resilience` binary:
// a YAML file, then environment overrides (RESILIENCE_*), then flags.
// Secrets (MQTT password, InfluxDB token) come only from files or the
// environment, never from flags. Validate reports every problem at once,
// each naming its key. Relative paths in the file are relative to the file.
//
// Embedded mode is chosen per broker: an empty ingest.mqtt_url starts the
// embedded MQTT broker, an empty kafka.brokers the embedded Kafka-protocol
// log; an empty influx.url keeps points in local files.
package config
