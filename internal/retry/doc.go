// Package retry holds the backoff and the context-aware sleep that every
// retry loop of the project uses (Kafka reads and writes, InfluxDB writes,
// pipeline steps, topic setup). Backoff is jittered (full jitter above a
// floor of the minimum wait, see Backoff); Ceiling is its deterministic
// exponential envelope.
package retry
