package rules

import (
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// This file is the contract between the processor and the rule engine. The
// processor owns Kafka, sinks and the changelog; the engine owns rule
// semantics and per-station state. Keep it small: the processor calls only
// what is declared here.

// Quality is a QARTOD-style flag for one measurement (schemas.Quality: the
// rules set it, the line protocol and the HTTP API show it).
type Quality = schemas.Quality

// QARTOD flags.
const (
	QualityPass    = schemas.QualityPass
	QualityNotEval = schemas.QualityNotEval
	QualitySuspect = schemas.QualitySuspect
	QualityFail    = schemas.QualityFail
	QualityMissing = schemas.QualityMissing
)

// Result is what one record did to a station.
type Result struct {
	// Events are the alert events the record caused, in order.
	Events []schemas.AlertEvent
	// Quality has one flag per record.Readings entry, same index.
	Quality []Quality
	// Duplicate is true when (station, boot, seq, ts) or (sensor, ts) was seen
	// already: the record must be written again idempotently but evaluated
	// no further.
	Duplicate bool
	// Late is true when the record is older than the allowed lateness: it is
	// stored, flagged late, and never clears an alert.
	Late bool
	// Notices are operator notices that are not alerts (e.g. a seq gap).
	Notices []Notice
}

// Notice is an operator notice, such as a data-loss gap in seq.
type Notice struct {
	Station string    `json:"station"`
	Kind    string    `json:"kind"`
	Detail  string    `json:"detail"`
	At      time.Time `json:"at"`
}
