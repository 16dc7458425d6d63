package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

func mustRegistry(t *testing.T, ids ...string) *schemas.Registry {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stations.yaml")
	if err := os.WriteFile(path, []byte(harness.RegistryYAML(ids)), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := schemas.LoadRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// decodeReason is the reason the collector's decoder gives ("" if it
// accepts the payload).
func decodeReason(reg *schemas.Registry, topic string, payload []byte, now time.Time) schemas.Reason {
	d := &schemas.Decoder{Registry: reg, Opts: schemas.DefaultDecodeOptions()}
	_, err := d.Decode(topic, payload, now)
	return schemas.ReasonOf(err)
}
