// Package retry is the one retry helper of the project. Do runs a function
// until it succeeds, returns a Permanent error, a Policy's attempts are
// used up (ErrExhausted) or the context ends, waiting a jittered backoff
// between attempts; every retry loop of the project (Kafka metadata, reads
// and writes, pipeline steps, topic setup, notifications) goes through it.
// Backoff is jittered (full jitter above a floor of the minimum wait, see
// Backoff); Ceiling is its deterministic exponential envelope; Sleep is
// the context-aware wait.
package retry
