package rules

import (
	"errors"

	"github.com/resilience-project/resilience/schemas/rulespec"
)

// The rules file model lives in the leaf package schemas/rulespec (shared
// with the alerts service and the CLI); these names keep the engine's API.

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers can test with errors.Is.
var (
	// ErrInvalidRules is wrapped by every validation error of a rules file
	// (it is rulespec.ErrInvalidRules); the message names the offending
	// key, e.g. `rules[2].levels[1].clear_margin: must be >= 0`.
	ErrInvalidRules = rulespec.ErrInvalidRules
	// ErrNilRuleSet is returned by NewEngine and SetRules for a nil *RuleSet.
	ErrNilRuleSet = errors.New("nil rule set")
	// ErrBadState is returned by State.UnmarshalBinary for bytes that are not
	// a state written by MarshalBinary (or of an unknown version).
	ErrBadState = errors.New("bad rule state encoding")
	// ErrBadInput is wrapped by the backtest readers for malformed input
	// lines; the message names the line.
	ErrBadInput = errors.New("bad backtest input")
)

// The rules file types (see package rulespec).
type (
	RuleSet   = rulespec.RuleSet
	RuleSpec  = rulespec.Rule
	LevelSpec = rulespec.LevelSpec
	Override  = rulespec.Override
	Term      = rulespec.Term
)

// Rule kinds, quality checks and composite scopes (see package rulespec).
const (
	KindLevel        = rulespec.KindLevel
	KindRate         = rulespec.KindRate
	KindAccumulation = rulespec.KindAccumulation
	KindOffline      = rulespec.KindOffline
	KindQuality      = rulespec.KindQuality
	KindComposite    = rulespec.KindComposite
	KindLandslide    = rulespec.KindLandslide
	KindRisk         = rulespec.KindRisk

	CheckStuck = rulespec.CheckStuck
	CheckSpike = rulespec.CheckSpike

	ScopeStation = rulespec.ScopeStation
	ScopeBasin   = rulespec.ScopeBasin
)

// Bounds and defaults of rule sets (see package rulespec).
const (
	// MaxLevels is the most levels one rule may have.
	MaxLevels = rulespec.MaxLevels
	// MaxRules is the most station rules a rule set may have; with
	// MaxLevels, MaxHistory and the name lengths it bounds the encoded state
	// of a station (MaxEncodedState).
	MaxRules = rulespec.MaxRules

	DefaultAllowedLateness = rulespec.DefaultAllowedLateness
	DefaultBucket          = rulespec.DefaultBucket
)

// ParseRuleSet parses, validates and completes a YAML rules document
// (rulespec.Parse). Unknown keys are errors. Every problem found is
// reported (errors.Join), each naming its key; all wrap ErrInvalidRules.
func ParseRuleSet(data []byte) (*RuleSet, error) { return rulespec.Parse(data) }

// LoadRuleSet reads and parses a rules file (rulespec.Load).
func LoadRuleSet(path string) (*RuleSet, error) { return rulespec.Load(path) }

// DefaultRuleSet returns the built-in rules (rulespec.Default); every call
// returns a fresh copy.
func DefaultRuleSet() *RuleSet { return rulespec.Default() }
