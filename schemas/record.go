package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// RecordVersion is the version of the normalised Record on the Kafka
// `readings` topic.
const RecordVersion = 1

// MaxSeq is the largest seq accepted: 2^53, exact in every JSON parser and
// an InfluxDB integer field.
const MaxSeq = 1 << 53

// Measurement is one sensor value in its sensor kind's canonical unit.
type Measurement struct {
	Sensor Sensor  `json:"sensor"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
}

// Record is the normalised form of one device message, as the collectors
// write it to the Kafka `readings` topic, keyed by Station.
//
// (Station, Boot, Seq) identifies a device message; the processor uses it to
// recognise duplicates. Values are canonical and bounds-checked.
type Record struct {
	V          int           `json:"v"`
	Station    string        `json:"station"`
	Seq        uint64        `json:"seq"`
	Boot       uint32        `json:"boot,omitempty"`
	TS         time.Time     `json:"ts"`
	Readings   []Measurement `json:"readings"`
	Battery    *float64      `json:"battery,omitempty"`
	RSSI       *int          `json:"rssi,omitempty"`
	ReceivedAt time.Time     `json:"received_at"`
	// Format is the device payload format the record came from: "v1" or "senml".
	Format string `json:"format,omitempty"`
}

// DeadLetterVersion is the version of DeadLetter on `readings.dlq`.
const DeadLetterVersion = 1

// MaxDeadLetterPayload is the most bytes of the original payload a
// DeadLetter carries. A longer payload is cut to this prefix and marked
// PayloadTruncated; PayloadSize and PayloadSHA256 still describe the whole
// original, so a dead letter always stays far below the Kafka message limit
// (about 1 MiB): one oversize device message can never make its own dead
// letter unproducible.
const MaxDeadLetterPayload = 16 << 10

// DeadLetter is a rejected device message as written to `readings.dlq`:
// the original bytes (base64 in JSON; at most MaxDeadLetterPayload of them),
// the reason and where it came from.
type DeadLetter struct {
	V      int    `json:"v"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail,omitempty"`
	Topic  string `json:"topic"`
	// Payload is the original payload, or its first MaxDeadLetterPayload
	// bytes when PayloadTruncated (nil when a producer refused even the
	// prefix; see PayloadSHA256).
	Payload []byte `json:"payload"`
	// PayloadSize is the length of the original payload in bytes.
	PayloadSize int `json:"payload_size,omitempty"`
	// PayloadSHA256 is the hex SHA-256 of the whole original payload, to
	// match a truncated dead letter with the device's copy.
	PayloadSHA256 string `json:"payload_sha256,omitempty"`
	// PayloadTruncated says Payload holds only a prefix of the original.
	PayloadTruncated bool      `json:"payload_truncated,omitempty"`
	ReceivedAt       time.Time `json:"received_at"`
	Collector        string    `json:"collector,omitempty"`
}

// NewDeadLetter builds a dead letter for payload received on topic: it
// copies at most MaxDeadLetterPayload bytes and records the original size
// and SHA-256.
func NewDeadLetter(reason Reason, detail, topic string, payload []byte, receivedAt time.Time, collector string) DeadLetter {
	sum := sha256.Sum256(payload)
	dl := DeadLetter{V: DeadLetterVersion, Reason: reason, Detail: detail, Topic: topic,
		PayloadSize: len(payload), PayloadSHA256: hex.EncodeToString(sum[:]),
		ReceivedAt: receivedAt.UTC(), Collector: collector}
	if len(payload) > MaxDeadLetterPayload {
		dl.Payload = bytes.Clone(payload[:MaxDeadLetterPayload])
		dl.PayloadTruncated = true
	} else {
		dl.Payload = bytes.Clone(payload)
	}
	return dl
}
