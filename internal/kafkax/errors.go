package kafkax

import (
	"errors"

	"github.com/segmentio/kafka-go"
)

// Producer refusal reasons returned by PermanentReason: stable,
// low-cardinality metric labels.
const (
	RefusedTooLarge     = "message_too_large"
	RefusedInvalid      = "invalid_record"
	RefusedUnauthorized = "unauthorized"
	RefusedInvalidTopic = "invalid_topic"
	RefusedUnsupported  = "unsupported"
)

// RefusalReasons lists every reason PermanentReason returns. It returns a
// new slice on every call.
func RefusalReasons() []string {
	return []string{RefusedTooLarge, RefusedInvalid, RefusedUnauthorized, RefusedInvalidTopic, RefusedUnsupported}
}

// PermanentReason classifies a kafka-go producer error for one message (an
// element of kafka.WriteErrors, or the error of a one-message write). It
// returns a reason and true when writing the same message again cannot
// succeed:
//
//   - kafka.MessageTooLargeError (the writer's own BatchBytes check, before
//     anything is sent) and the broker codes MessageSizeTooLarge and
//     RecordListTooLarge: message_too_large;
//   - InvalidRecord, InvalidTimestamp, InvalidMessageSize: invalid_record;
//   - TopicAuthorizationFailed, ClusterAuthorizationFailed,
//     SASLAuthenticationFailed: unauthorized;
//   - InvalidTopic: invalid_topic;
//   - UnsupportedForMessageFormat, UnsupportedCompressionType,
//     InvalidRequiredAcks, PolicyViolation: unsupported.
//
// Everything else is retryable ("", false): network errors, timeouts,
// leader elections, NotEnoughReplicas, and also UnknownTopicOrPartition
// (kafka-go's Temporary; the topics are created at start, so a missing one
// is metadata catching up or an operator deleting it, and holding the acks
// keeps the data with the MQTT broker until it is back) and errors kafka-go
// does not type. Note that a broker refuses a whole partition batch for one
// offending record, so every message of that batch carries the error; the
// caller must write them singly to find the offender.
func PermanentReason(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return RefusedTooLarge, true
	}
	var code kafka.Error
	if !errors.As(err, &code) {
		return "", false
	}
	switch code {
	case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge:
		return RefusedTooLarge, true
	case kafka.InvalidRecord, kafka.InvalidTimestamp, kafka.InvalidMessageSize:
		return RefusedInvalid, true
	case kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed:
		return RefusedUnauthorized, true
	case kafka.InvalidTopic:
		return RefusedInvalidTopic, true
	case kafka.UnsupportedForMessageFormat, kafka.UnsupportedCompressionType, kafka.InvalidRequiredAcks, kafka.PolicyViolation:
		return RefusedUnsupported, true
	}
	return "", false
}
