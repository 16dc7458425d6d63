// Package rulespec is the rules file model: the YAML a rules file holds
// (RuleSet, Rule, LevelSpec, Override, Term), how it is parsed, checked and
// completed with defaults. It is a leaf of the wire/file contracts: it
// imports only the standard library, yaml and package schemas, so the
// processor's rule engine (processor/rules), the alerts service
// (alerts/basin) and the CLI (`resilience rules check`) share one model
// without compiling in each other.
//
// # Parse, Validate, WithDefaults
//
// Parse = Decode (unknown keys are errors) → Validate → WithDefaults.
//
//   - Validate only checks; it never changes the RuleSet. Every problem is
//     reported (errors.Join), each naming its key path, e.g.
//     `rules[2].levels[1].clear_margin: must be >= 0`, and each wraps
//     ErrInvalidRules. A zero value that has a default (severity,
//     direction, min_span, k, scope, min_level, min_stations, a rule's
//     name) is valid and means "the default".
//   - WithDefaults returns a new RuleSet with every default filled in and
//     shares no memory with its receiver, which it never changes. It is
//     idempotent. A RuleSet returned by Parse is complete; treat it as
//     immutable and share it freely.
//
// # Rule kinds
//
// Each kind is one KindSpec (kind_*.go): its name, the checks of its own
// parameters, its defaults and its default rule name, registered in one
// table (kinds.go). Adding a kind is one file plus one line there (and the
// evaluator in processor/rules). The kinds and the keys they read:
//
//   - level (default name level:SENSOR): sensor, levels or
//     levels_from_registry (+ registry_level_names), direction, clear_margin,
//     min_count, min_duration. Only level rules take direction and
//     levels_from_registry.
//   - rate (rate:SENSOR): sensor, window (≤ MaxRateWindow), min_span
//     (default window/2), absolute, levels (> 0, units per hour).
//   - accumulation (accum:rainfall:WINDOW): sensor rainfall, window
//     (≤ MaxAccumulationWindow, a multiple of bucket), levels.
//   - offline (offline): k (default 3, in [1, MaxK]).
//   - quality (quality:CHECK:SENSOR): check stuck (count in [2,
//     MaxStuckCount]) or spike (max_jump > 0).
//   - composite (must be named): op and/or, of (terms naming other,
//     non-composite rules), scope station (default) or basin (+ basins).
//   - landslide (landslide:tilt): window (tilt rate, default 1h), min_span,
//     tilt_rates (default 0.01, 0.1 deg/h), saturation_fraction (0.9 of the
//     station's saturation_pct), rain_mm (100) over rain_window (72h, in
//     [24h, 72h]), ttf_points (6), levels = grades 1..3 (see landslideKind
//     for the decision table).
//   - risk (risk:rainfall): risk (a RiskTable; default DefaultRiskTable, an
//     ESTIMATE: Decision 18/2021's own table is not in our reference),
//     levels = risk levels 1..5 with colour; only stations with a
//     hazard_zone get it.
//
// Levels may also carry name_vi, name_en, beaufort (wind grades) and colour
// (risk levels), which alert events carry. CoverageOf says which rules
// watch the sensors a registry's stations declare (`rules check`).
//
// # Maxima
//
// Nothing is capped silently: every bound is an exported constant and a
// file beyond it is refused by Validate (MaxRules station rules,
// MaxLevels levels per rule, MaxNameLen for rule names, MaxLabelLen for
// level names, the window and lateness ranges, MaxK, MaxStuckCount).
package rulespec
