package rulespec

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Decode reads a YAML rules document as written: unknown keys are errors
// (wrapping ErrInvalidRules); nothing is checked or defaulted.
func Decode(data []byte) (*RuleSet, error) {
	var rs RuleSet
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRules, err)
	}
	return &rs, nil
}

// Parse decodes, validates and completes a YAML rules document: Decode,
// then Validate (every problem, each naming its key), then WithDefaults.
func Parse(data []byte) (*RuleSet, error) {
	rs, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return rs.WithDefaults(), nil
}

// Load reads and parses a rules file.
func Load(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	rs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return rs, nil
}
