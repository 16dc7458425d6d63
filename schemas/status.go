package schemas

import "time"

// Quality is a QARTOD-style flag for one measurement, as the rules set it
// and as the HTTP API and the line protocol show it.
type Quality int

// Quality flags.
const (
	QualityPass    Quality = 1
	QualityNotEval Quality = 2
	QualitySuspect Quality = 3
	QualityFail    Quality = 4
	QualityMissing Quality = 9
)

// SensorValue is one value of one sensor as the HTTP API shows it.
type SensorValue struct {
	Value   float64   `json:"value"`
	Unit    string    `json:"unit"`
	TS      time.Time `json:"ts"`
	Quality Quality   `json:"quality"`
}

// StationStatus is what the HTTP API shows of a station: the processor's
// view fills it in, the API serves it.
type StationStatus struct {
	ID       string                 `json:"id"`
	Name     string                 `json:"name"`
	District string                 `json:"district"`
	Basin    string                 `json:"basin"`
	LastSeen *time.Time             `json:"last_seen"`
	LastSeq  uint64                 `json:"last_seq"`
	Values   map[Sensor]SensorValue `json:"values"`
	// Battery is the last battery voltage the station reported (V).
	Battery *SensorValue `json:"battery,omitempty"`
}
