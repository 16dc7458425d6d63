//go:build !unix

package influxsink

import "errors"

// freeBytes is not implemented here: only the byte bound applies.
func freeBytes(string) (uint64, error) {
	return 0, errors.New("free space check not supported on this platform")
}
