package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// AlertEventVersion is the version of AlertEvent on the Kafka `alerts` topic.
const AlertEventVersion = 1

// AlertKind is what happened to an alert.
type AlertKind string

// Alert event kinds.
const (
	AlertFired       AlertKind = "fired"
	AlertEscalated   AlertKind = "escalated"
	AlertDeescalated AlertKind = "deescalated"
	AlertResolved    AlertKind = "resolved"
)

// Severity follows CAP 1.2 severities.
type Severity string

// Severities.
const (
	SeverityMinor    Severity = "Minor"
	SeverityModerate Severity = "Moderate"
	SeveritySevere   Severity = "Severe"
	SeverityExtreme  Severity = "Extreme"
)

// ReadingRef points at a reading that caused an alert event.
type ReadingRef struct {
	Seq   uint64    `json:"seq"`
	TS    time.Time `json:"ts"`
	Value float64   `json:"value"`
}

// AlertEvent is one change in an alert's life, written by the processor to
// the Kafka `alerts` topic keyed by station.
//
// ID names the alert (station + rule + start) and is the same for every
// event of one alert; EventID names this event and is the dedupe key for
// consumers: the processor may emit an event twice after a crash, never two
// different events with one EventID.
type AlertEvent struct {
	V         int          `json:"v"`
	ID        string       `json:"id"`
	EventID   string       `json:"event_id"`
	Kind      AlertKind    `json:"kind"`
	Station   string       `json:"station"`
	Sensor    Sensor       `json:"sensor,omitempty"`
	Rule      string       `json:"rule"`
	Level     int          `json:"level"`
	LevelName string       `json:"level_name,omitempty"`
	Severity  Severity     `json:"severity"`
	Value     float64      `json:"value"`
	Threshold float64      `json:"threshold"`
	Window    string       `json:"window,omitempty"`
	StartedAt time.Time    `json:"started_at"`
	At        time.Time    `json:"at"`
	Readings  []ReadingRef `json:"readings,omitempty"`
	District  string       `json:"district,omitempty"`
	Basin     string       `json:"basin,omitempty"`
	Message   string       `json:"message,omitempty"`

	// The fields below are optional and additive (consumers of v1 that do
	// not know them ignore them); they never enter AlertID or EventID.

	// LevelNameVI and LevelNameEN name the grade in Vietnamese and English
	// (e.g. "bão mạnh" / "strong storm"), where the rule names them.
	LevelNameVI string `json:"level_name_vi,omitempty"`
	LevelNameEN string `json:"level_name_en,omitempty"`
	// Beaufort is the Beaufort number of the wind value (wind rules).
	Beaufort int `json:"beaufort,omitempty"`
	// Colour is the colour of the official risk level (Decision
	// 18/2021/QĐ-TTg: light blue, light yellow, orange, red, purple).
	Colour string `json:"colour,omitempty"`
	// TimeToNext is, for a rising hazard, the seconds until the value
	// reaches the next grade at its current rate (0: not rising, or no
	// next grade).
	TimeToNext float64 `json:"time_to_next,omitempty"`
	// TimeToFailure is the seconds to the slope failure estimated by the
	// inverse-velocity method (Fukuzono 1985) while tilt accelerates; an
	// estimate, never a forecast.
	TimeToFailure float64 `json:"time_to_failure,omitempty"`
}

// AlertID is the deterministic id of the alert that rule raised on station
// starting at start (event time).
func AlertID(station, rule string, start time.Time) string {
	h := sha256.Sum256([]byte(station + "\x00" + rule + "\x00" + strconv.FormatInt(start.UnixNano(), 10)))
	return station + "-" + hex.EncodeToString(h[:8])
}

// EventID is the deterministic id of one event of an alert.
func EventID(alertID string, kind AlertKind, level int, at time.Time) string {
	return alertID + ":" + string(kind) + ":" + strconv.Itoa(level) + ":" + strconv.FormatInt(at.UnixNano(), 10)
}
