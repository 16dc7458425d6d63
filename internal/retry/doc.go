// Package retry holds the backoff and the context-aware sleep that every
// retry loop of the project uses (Kafka writes, InfluxDB writes, pipeline
// steps, topic setup).
package retry
