package schemas

// Dead-letter reasons set by the collector itself rather than the decoder.
// They are not in AllReasons (schemas/errors.go is maintained separately);
// DeadLetterReasons lists both.
const (
	// ReasonRateLimited: the station sent more than its share
	// (ingest.station_rate, ingest.station_burst) or held more than
	// ingest.station_max_undelivered messages; the message was not decoded.
	ReasonRateLimited Reason = "rate_limited"
	// ReasonProducerRejected: the message decoded, but Kafka refused its
	// record permanently (too large, invalid, not authorised).
	ReasonProducerRejected Reason = "producer_rejected"
)

// IngestReasons lists the reasons the collector sets on its own. It returns
// a new slice on every call.
func IngestReasons() []Reason { return []Reason{ReasonRateLimited, ReasonProducerRejected} }

// DeadLetterReasons lists every reason a dead letter can carry: AllReasons
// followed by IngestReasons, each once. It returns a new slice on every call.
func DeadLetterReasons() []Reason {
	out := make([]Reason, 0, len(AllReasons)+2)
	seen := make(map[Reason]bool, len(AllReasons)+2)
	for _, r := range append(append([]Reason(nil), AllReasons...), IngestReasons()...) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
