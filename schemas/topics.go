package schemas

import "strings"

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

// StationIDPattern is the station id syntax as a regular expression (the
// "pattern" of stationId in schemas/json/*.schema.json).
const StationIDPattern = `^[A-Za-z0-9_-]{1,64}$`

// ValidStationID reports whether id is a well-formed station id, i.e.
// matches StationIDPattern.
func ValidStationID(id string) bool {
	if len(id) == 0 || len(id) > MaxStationIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

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
	rest, ok := strings.CutPrefix(topic, "stations/")
	if !ok {
		return "", TopicUnknown
	}
	station, leaf, ok := strings.Cut(rest, "/")
	if !ok || !ValidStationID(station) {
		return "", TopicUnknown
	}
	switch leaf {
	case "readings":
		return station, TopicReadings
	case "senml":
		return station, TopicSenML
	case "status":
		return station, TopicStatus
	}
	return "", TopicUnknown
}
