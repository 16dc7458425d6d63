package schemas

import "time"

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

// DeadLetter is a rejected device message as written to `readings.dlq`:
// the original bytes (base64 in JSON), the reason and where it came from.
type DeadLetter struct {
	V          int       `json:"v"`
	Reason     Reason    `json:"reason"`
	Detail     string    `json:"detail,omitempty"`
	Topic      string    `json:"topic"`
	Payload    []byte    `json:"payload"`
	ReceivedAt time.Time `json:"received_at"`
	Collector  string    `json:"collector,omitempty"`
}
