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
)

// AllReasons lists every reason, for pre-declaring metric series.
var AllReasons = []Reason{
	ReasonBadJSON, ReasonBadUTF8, ReasonOversize, ReasonBadTopic, ReasonBadStationID,
	ReasonUnknownStation, ReasonStationMismatch, ReasonUnknownSensor, ReasonBadUnit,
	ReasonNotFinite, ReasonOutOfBounds, ReasonBadTimestamp, ReasonFutureTS,
	ReasonBadVersion, ReasonMissingField, ReasonEmpty,
	ReasonUndeclaredSensor, ReasonDuplicateSensor, ReasonDuplicateKey, ReasonUnknownField,
}

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
