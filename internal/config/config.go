package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes a YAML document into dst over the values dst already
// holds (the defaults). Unknown keys are errors, which name the key. An
// empty document leaves dst as it is. Errors start with "config: ".
func Decode(data []byte, dst any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// ReadFile reads a config file and hands its bytes and directory (the base
// of its relative paths) to parse. Errors name the file.
func ReadFile(path string, parse func(data []byte, base string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := parse(data, filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ResolvePaths makes every non-empty relative path absolute against base
// (the directory of the file that named it). Empty paths stay empty.
func ResolvePaths(base string, paths ...*string) {
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// Env reads environment overrides through get (os.Getenv in production,
// a map in tests).
type Env func(string) string

// String sets *dst to the value of key when key is set and not empty.
func (e Env) String(key string, dst *string) {
	if v := e(key); v != "" {
		*dst = v
	}
}

// List sets *dst to the comma-separated list in key (see SplitList) when
// key is set and not empty.
func (e Env) List(key string, dst *[]string) {
	if v := e(key); v != "" {
		*dst = SplitList(v)
	}
}

// SplitList splits a comma-separated list, trimming blanks and dropping
// empty elements.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
