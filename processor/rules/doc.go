// Package rules is Resilience's disaster-prevention rule engine: it folds
// normalised readings (schemas.Record) into per-station State and emits
// alert events (schemas.AlertEvent) when thresholds are crossed.
//
// # Rules file
//
// The rules file model (RuleSet, RuleSpec, LevelSpec, Override, Term) is
// the leaf package schemas/rulespec, shared with the alerts service and the
// CLI; this package re-exports its names. A rules file
// (deployments/config/rules.yaml) is YAML with allowed_lateness, bucket and
// a list of rules. ParseRuleSet rejects unknown keys and reports every
// problem with the key that holds it, e.g.
// `rules[2].levels[1].clear_margin: must be >= 0`; all such errors wrap
// ErrInvalidRules. RuleSet.Validate only checks; NewEngine and SetRules
// validate the set and compile it with its defaults filled in
// (RuleSet.WithDefaults, a new value), never changing the set passed in.
// Rules apply to every station with the sensor unless
// restricted with `stations:`; `overrides:` adjust levels, clear margin,
// min_count or min_duration per station, or disable the rule there. Level
// rules with `levels_from_registry: true` take each river station's
// official alarm levels I/II/III from the station registry
// (alarm_levels_m, flood_depth_levels_cm). Watcher hot-reloads the file; a
// bad file keeps the old rules.
//
// # Evaluators
//
// Each rule kind is one evaluator type in its own file (level.go, rate.go,
// accumulation.go, offline.go, quality_stuck.go, quality_spike.go,
// composite.go), registered in one table (kinds in evaluator.go) from the
// spec kind to a compile function. Compiling gives a rule its role on a
// station: driven by its sensor's readings (sampler: the watched value at a
// sample; a quality check is also a checker that flags readings suspect),
// derived from other rules (deriver) or driven by the processor's clock
// (timer). The engine calls only these interfaces and never switches on
// kind, so a new kind is one file here, one in schemas/rulespec and a line
// in each table.
//
// The compiled rules of a station are a ruleClass, shared by every
// station alike in the registry fields the kinds compile from (classKey:
// alarm levels, flood-depth levels, interval, rain counter, saturation,
// hazard zone) and named by no rule (no override, no `stations:` list
// that lists it); such a station has a class of its own. 10,000 alike
// stations bind one class, not 10,000.
//
// Rule kinds and their stable names (alert ids derive from the name, so
// renaming a rule starts new alerts):
//
//   - level (level:SENSOR): thresholds at one or more levels, direction
//     above or below, clear margin (hysteresis), optional min_count
//     consecutive readings and min_duration before the first firing.
//     Moving between levels is one alert: fired, escalated, deescalated,
//     resolved share one id.
//
//   - rate (rate:SENSOR): change per hour between the reading and the
//     oldest good reading within window (at least min_span apart);
//     absolute watches the magnitude (tilt).
//
//   - accumulation (accum:rainfall:WINDOW): rolling rainfall sum over
//     window, checked against classes. Rain is kept in event-time buckets
//     (bucket, default 10m) in hundredths of a millimetre, so sums are
//     exact and independent of arrival order; memory is one ring of
//     (longest window + lateness) / bucket counters per station. Both
//     increment gauges and running counters (Station.RainCounter) are
//     handled: a counter's increment is its difference to the previous
//     reading by event time, a drop is a reset (the reading becomes the
//     new base and adds nothing), and a late reading splits the difference
//     of its neighbours, so nothing is counted twice.
//
//   - offline (offline): no reading for k x the station's interval. It is
//     driven by Engine.Tick with the processor's clock; the event's At is
//     the moment the station became overdue; the next reading resolves it.
//
//   - quality (quality:stuck:SENSOR, quality:spike:SENSOR): count
//     identical consecutive readings, or a jump of max_jump or more from
//     the previous reading. The reading is flagged QualitySuspect in
//     Result.Quality and a sensor-fault alert is raised; suspect readings
//     neither fire nor clear hazard (level, rate, accumulation) alerts. A
//     spike flags both the jump and the jump back.
//
//   - composite (named): AND/OR over other rules of the same station, each
//     true while its alert is at min_level or above. Basin composites
//     (scope: basin) are not evaluated here but by the alerts service
//     (package alerts/basin), which sees every station.
//
//   - landslide (landslide:tilt): driven by tilt readings; the tilt rate
//     (as a rate rule) graded 0/1/2, plus one grade when the newest soil
//     moisture is near the station's saturation and the station's rain over
//     rain_window reached rain_mm. Soil moisture and rain are read at each
//     tilt reading: a late one counts from the next tilt reading on. While
//     the tilt accelerates (1/rate falling with R² >= 0.8 over ttf_points
//     samples) events carry time_to_failure, the inverse-velocity estimate
//     (Fukuzono 1985), and say it is an estimate.
//
//   - risk (risk:rainfall): the official risk level 1..5 (Decision
//     18/2021, Art. 46) from the 24 h rain band, the rain's duration (the
//     two days before the last 24 h each at least rainy_day_mm: more than
//     2 days) and the station's hazard zone, with the level's colour.
//
// Events of levels with names in Vietnamese and English, Beaufort grades
// or colours carry them (level_name_vi, level_name_en, beaufort of the
// value, colour); fired and escalated events of rising level rules carry
// time_to_next, the seconds to the next level at the rate of the last
// hour, and rate rules on water level or flood depth the seconds to the
// station's next registry level at the rate.
//
// # Event time, lateness, duplicates
//
// Windows use the reading's timestamp. Each rule keeps a checkpoint (Base)
// at the watermark, the station's newest reading minus allowed_lateness,
// and its current condition (Cur). A reading in order advances Cur by one
// step; an out-of-order reading inside the lateness rebuilds Cur from the
// checkpoint over the recent history in event order. The engine then
// raises the alert to the highest level reached from that reading on, and
// lowers it to Cur's level if Cur is lower. Consequences, tested by
// TestOrderIndependence: for any arrival order within the lateness the
// final level of every rule, the highest level every rule reached and the
// rainfall sums are the same. Events are never retracted, so an alert that
// late data would have started earlier keeps its original id, and a
// fire/clear/fire sequence hidden inside out-of-order data may be seen as
// one alert. With min_count > 1 a late reading that breaks a run can leave
// a level that in-order data would not have reached.
//
// What a late reading emits is defined by that replay from the checkpoint
// (with the reading: Cur and the peak; without it: what was known), but
// the engine does not redo it: each rule that had a late reading keeps its
// trace, the fold from the checkpoint over every later reading (a cache,
// not encoded). A late reading refolds only the readings whose value it
// can change (its own, the later readings of its rate window whose oldest
// reading it becomes, the reading after it for a spike, the readings
// whose flags it changed; rolling rain sums are shifted by its rain, and
// where every later reading of the rule is at its top level, the shift of
// all of them is one pending offset rather than one addition each), and
// stops at the first later reading whose condition comes out unchanged.
// The result is exactly the replay's, record by record (tests
// TestArrivalOrderGolden against the replaying engine's output,
// TestTraceIsTheReplay, FuzzTracesMatchReplay), so events and their ids
// stay a function of the sequence of records in arrival order, and a
// restored State (no traces) emits the same: its first late reading
// rebuilds the trace by one replay. The work of a late reading is about
// that of an in-order one (TestLateRecordsCostAboutInOrder,
// BenchmarkApplyReverse and BenchmarkApplyShuffled against
// BenchmarkApplyInOrder); its worst case, every later reading of a rule's
// window changing its value (a backlog replayed newest first from an empty
// state), is O(window) evaluations and still O(MaxHistory) folds per rule.
// A rule's breach run is counted only up to min_count and its start kept
// only for a min_duration (all the gate reads), so that two folds agreeing
// on the levels agree from there on: after a hot swap that raises a rule's
// min_count or gives it a min_duration, a run already in progress counts
// from the swap.
//
// Readings older than the lateness are flagged Late and change nothing:
// they cannot cause a false all-clear (nor count rain). A record whose
// (boot, seq, ts) or every (sensor, ts) was seen is flagged Duplicate and
// changes nothing; a seq alone proves nothing, since a device without a
// boot counter restarts it. A seq gap within one boot raises a
// NoticeSeqGap; a seq at or below the highest seen, with a newer ts, is
// such a restart: it raises a NoticeSeqReset and the readings are
// processed.
//
// # Events and state
//
// Every event carries the deterministic schemas.AlertID(station, rule,
// start) and schemas.EventID, event-time At and StartedAt, level, level
// name, severity, value, threshold, window, the readings that caused it,
// and the station's district and basin. State round-trips losslessly
// through MarshalBinary/UnmarshalBinary, so after a crash the processor
// restores it from the changelog and re-applying records emits the same
// events (same EventIDs) or none; alerts neither re-fire nor get lost.
// The encoding is explicit and versioned (see stateVersion): bytes of any
// other version are ErrBadState, never a state with fields silently zero.
// A station's state is bounded by design, whatever its reporting rate: at
// most MaxHistory readings per sensor (thinned evenly beyond that, in
// chunks of MaxHistory/8, so that the traces of a sensor with late
// readings are refolded once per chunk rather than once per reading), at
// most MaxRules rules, so it encodes to at most MaxEncodedState bytes. The
// traces of late readings add at most 40 bytes per reading within the
// lateness per rule, in memory only.
// In memory, a rule that has never fired holds only its two folds (144
// bytes), in the slot its class gives it (no map; traces sit apart, in a
// slice allocated at a station's first late reading); its alert fields
// are allocated at its first alert, with the event ids it emitted as
// 16-byte keys, and an active alert's latest event is kept in this
// encoding without the alert id, event id, station and rule the state
// holds already (the state encoding has the whole event, and a decoded
// event that the state could not give back is ErrBadState). Rain buckets take one byte each until one holds more
// than 2.55 mm. 10,000 stations with four sensors and 72 h rain windows
// take 63 MB of heap (BenchmarkStateMemory10k).
//
// # Concurrency
//
// Engine is safe for concurrent use; SetRules swaps rules atomically. A
// State must be used by one goroutine at a time.
package rules
