// Package config is the generic loading plumbing of the `resilience`
// configuration: strict YAML decoding over defaults (unknown keys are
// errors naming the key), reading a file with errors naming it, resolving
// relative paths against the file's directory, and environment overrides
// (RESILIENCE_*) through an injectable getenv.
//
// It knows no component. The aggregate configuration of the binary (its
// sections, keys, environment variables, flags and validation) is composed
// in the application layer, cmd/resilience (config.go there), from the
// components' own Config types; this keeps the package below the
// components in the import graph.
package config
