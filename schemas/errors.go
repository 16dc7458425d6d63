package schemas

import (
	"errors"
	"fmt"
)

// Reason is a stable, low-cardinality rejection reason: a metric label and
// the `reason` of a dead-letter record.
type Reason string

// Rejection reasons.
const (
	ReasonBadJSON         Reason = "bad_json"
	ReasonBadUTF8         Reason = "bad_utf8"
	ReasonOversize        Reason = "oversize"
	ReasonBadTopic        Reason = "bad_topic"
	ReasonBadStationID    Reason = "bad_station_id"
	ReasonUnknownStation  Reason = "unknown_station"
	ReasonStationMismatch Reason = "station_mismatch"
	ReasonUnknownSensor   Reason = "unknown_sensor"
	ReasonBadUnit         Reason = "bad_unit"
	ReasonNotFinite       Reason = "not_finite"
	ReasonOutOfBounds     Reason = "out_of_bounds"
	ReasonBadTimestamp    Reason = "bad_timestamp"
	ReasonFutureTS        Reason = "future_timestamp"
	ReasonBadVersion      Reason = "bad_version"
	ReasonMissingField    Reason = "missing_field"
	ReasonEmpty           Reason = "empty"
	// ReasonUndeclaredSensor: a reading of a sensor kind the station does
	// not declare in the registry (Station.Sensors). The whole message is
	// rejected.
	ReasonUndeclaredSensor Reason = "undeclared_sensor"
	// ReasonDuplicateSensor: the same sensor twice in one message (v1), at
	// the same millisecond in two messages of one batch (v1), or the same
	// resolved name at the same time in one SenML pack.
	ReasonDuplicateSensor Reason = "duplicate_sensor"
	// ReasonDuplicateKey: a member name twice in one JSON object, at any
	// level (encoding/json would keep the last, a JSON Schema validator
	// may see the first).
	ReasonDuplicateKey Reason = "duplicate_key"
	// ReasonUnknownField: a member name the format does not define,
	// compared exactly ("Station" is not "station"); in SenML, a label
	// ending in "_" (RFC 8428 "must understand") or one that differs from
	// a SenML label only in case.
	ReasonUnknownField Reason = "unknown_field"

	// Reasons set by the collector itself rather than the decoder.

	// ReasonRateLimited: the station sent more than its share
	// (ingest.station_rate, ingest.station_burst) or held more than
	// ingest.station_max_undelivered messages; the message was not decoded.
	ReasonRateLimited Reason = "rate_limited"
	// ReasonProducerRejected: the message decoded, but Kafka refused its
	// record permanently (too large, invalid, not authorised).
	ReasonProducerRejected Reason = "producer_rejected"
)

// DecodeReasons lists every reason the decoder returns. It returns a new
// slice on every call.
func DecodeReasons() []Reason {
	return []Reason{
		ReasonBadJSON, ReasonBadUTF8, ReasonOversize, ReasonBadTopic, ReasonBadStationID,
		ReasonUnknownStation, ReasonStationMismatch, ReasonUnknownSensor, ReasonBadUnit,
		ReasonNotFinite, ReasonOutOfBounds, ReasonBadTimestamp, ReasonFutureTS,
		ReasonBadVersion, ReasonMissingField, ReasonEmpty,
		ReasonUndeclaredSensor, ReasonDuplicateSensor, ReasonDuplicateKey, ReasonUnknownField,
	}
}

// IngestReasons lists the reasons the collector sets on its own. It returns
// a new slice on every call.
func IngestReasons() []Reason { return []Reason{ReasonRateLimited, ReasonProducerRejected} }

// DeadLetterReasons lists every reason a dead letter can carry
// (DecodeReasons, then IngestReasons), for pre-declaring metric series. It
// returns a new slice on every call.
func DeadLetterReasons() []Reason { return append(DecodeReasons(), IngestReasons()...) }

// RejectError says why a message was rejected. It is never retryable: the
// same bytes are rejected again.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return "rejected: " + string(e.Reason)
	}
	return fmt.Sprintf("rejected: %s: %s", e.Reason, e.Detail)
}

// Reject builds a *RejectError.
func Reject(r Reason, detail string) error { return &RejectError{Reason: r, Detail: detail} }

// ReasonOf returns the Reason of a rejection, or "" if err is not one.
func ReasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}
