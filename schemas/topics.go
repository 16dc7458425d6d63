package schemas

import (
	"regexp"
	"strings"
)

// MQTT topic layout. {id} is a station id.
const (
	// TopicReadingsFmt is where a device publishes reading messages (v1 JSON,
	// one message or a JSON array of messages).
	TopicReadingsFmt = "stations/%s/readings"
	// TopicSenMLFmt is where a device publishes SenML JSON (RFC 8428) packs.
	TopicSenMLFmt = "stations/%s/senml"
	// TopicStatusFmt carries heartbeats and the device's MQTT last will.
	TopicStatusFmt = "stations/%s/status"
	// TopicCmdFmt is the downlink prefix (reserved).
	TopicCmdFmt = "stations/%s/cmd/"
)

// Kafka topics.
const (
	KafkaReadings = "readings"
	KafkaDLQ      = "readings.dlq"
	KafkaAlerts   = "alerts"
	// KafkaState is the processor's compacted changelog of per-station state.
	KafkaState = "processor.state"
)

// MaxStationIDLen is the longest station id accepted.
const MaxStationIDLen = 64

var stationIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidStationID reports whether id is a well-formed station id.
func ValidStationID(id string) bool { return stationIDRe.MatchString(id) }

// TopicKind is the kind of a device topic.
type TopicKind int

const (
	TopicUnknown TopicKind = iota
	TopicReadings
	TopicSenML
	TopicStatus
)

// ParseTopic splits a device topic into its station id and kind. A topic
// whose station level is not a valid station id returns TopicUnknown.
func ParseTopic(topic string) (station string, kind TopicKind) {
	parts := strings.Split(topic, "/")
	if len(parts) != 3 || parts[0] != "stations" || !ValidStationID(parts[1]) {
		return "", TopicUnknown
	}
	switch parts[2] {
	case "readings":
		return parts[1], TopicReadings
	case "senml":
		return parts[1], TopicSenML
	case "status":
		return parts[1], TopicStatus
	}
	return "", TopicUnknown
}
