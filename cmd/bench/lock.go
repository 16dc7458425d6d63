package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// errBusy is returned by lockServers when another bench runs against the
// same broker: the backlogs go to the shared stations/+/readings topics,
// so two runs would drain each other's readings.
var errBusy = errors.New("bench: another bench is running against this MQTT broker")

// lockServers takes an exclusive lock named after the broker URL in dir
// (held until release); it fails at once with errBusy if it is taken.
func lockServers(dir, mqttURL string) (release func(), err error) {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, mqttURL)
	path := filepath.Join(dir, "resilience-bench-"+name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bench lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s, lock %s)", errBusy, mqttURL, path)
		}
		return nil, fmt.Errorf("bench lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
