package embedded

import (
	"strings"
	"testing"

	"github.com/resilience-project/resilience/schemas"
)

// FuzzParseCredentials: arbitrary bytes never panic, and whatever is
// accepted names only valid station ids with bcrypt hashes and collectors
// with a username and a bcrypt hash.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte("devices:\n  - {id: VG-AINGHIA, password_hash: $2a$10$abcdefghijklmnopqrstuv}\ncollectors:\n  - {username: c, password_hash: $2a$10$x}\n"))
	f.Add([]byte("devices: [{id: \"a\\nb\", password_hash: x}]"))
	f.Add([]byte("unknown: 1"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCredentials(b, "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mqtt.embedded.credentials_file") {
				t.Fatalf("error does not name the key: %v", err)
			}
			return
		}
		for _, d := range c.Devices {
			if !schemas.ValidStationID(d.ID) || !strings.HasPrefix(d.PasswordHash, "$2") {
				t.Fatalf("accepted device %+v", d)
			}
		}
		for _, col := range c.Collectors {
			if col.Username == "" || !strings.HasPrefix(col.PasswordHash, "$2") {
				t.Fatalf("accepted collector %+v", col)
			}
		}
	})
}
