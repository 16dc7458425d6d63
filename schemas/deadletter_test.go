package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// TestNewDeadLetterCapsPayload: a dead letter carries at most
// MaxDeadLetterPayload bytes of the original, with the original's size and
// hash, and stays valid against dead-letter-v1 whatever the payload size.
func TestNewDeadLetterCapsPayload(t *testing.T) {
	s := mustSchema(t, "dead-letter-v1.schema.json")
	cases := []struct {
		name      string
		size      int
		truncated bool
	}{
		{"empty", 0, false},
		{"small", 100, false},
		{"exactly the cap", MaxDeadLetterPayload, false},
		{"one over the cap", MaxDeadLetterPayload + 1, true},
		{"ten megabytes", 10 << 20, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte{'x', 0xff}, tc.size/2+1)[:tc.size]
			dl := NewDeadLetter(ReasonOversize, "too big", "stations/VG-AINGHIA/readings", payload, testNow, "c1")
			want := min(tc.size, MaxDeadLetterPayload)
			if len(dl.Payload) != want || !bytes.Equal(dl.Payload, payload[:want]) {
				t.Errorf("payload %d bytes, want the first %d", len(dl.Payload), want)
			}
			sum := sha256.Sum256(payload)
			if dl.PayloadSize != tc.size || dl.PayloadSHA256 != hex.EncodeToString(sum[:]) || dl.PayloadTruncated != tc.truncated {
				t.Errorf("size %d sha %s truncated %v, want %d %x %v", dl.PayloadSize, dl.PayloadSHA256, dl.PayloadTruncated, tc.size, sum, tc.truncated)
			}
			if dl.V != DeadLetterVersion || dl.Reason != ReasonOversize || !dl.ReceivedAt.Equal(testNow) || dl.Collector != "c1" {
				t.Errorf("dead letter %+v", dl)
			}
			if err := s.Validate(toJSONValue(t, dl)); err != nil {
				t.Errorf("dead-letter-v1: %v", err)
			}
			if len(payload) > 0 && &dl.Payload[0] == &payload[0] {
				t.Error("payload not copied: the dead letter aliases the MQTT buffer")
			}
		})
	}
}

// The schema's payload maxLength is the base64 length of MaxDeadLetterPayload
// bytes, and a dead letter carrying more is invalid.
func TestDeadLetterSchemaPayloadBound(t *testing.T) {
	s := mustSchema(t, "dead-letter-v1.schema.json")
	if got, want := numOf(t, at(t, s, "#/properties/payload/maxLength")), float64(base64.StdEncoding.EncodedLen(MaxDeadLetterPayload)); got != want {
		t.Fatalf("payload maxLength %v, want %v", got, want)
	}
	dl := NewDeadLetter(ReasonOversize, "", "stations/VG-AINGHIA/readings", nil, testNow, "")
	dl.Payload = make([]byte, MaxDeadLetterPayload+3) // +3: the next base64 length
	if err := s.Validate(toJSONValue(t, dl)); err == nil {
		t.Fatal("a dead letter over MaxDeadLetterPayload is valid against dead-letter-v1")
	}
}

func TestDeadLetterReasonsHoldsEveryReasonOnce(t *testing.T) {
	got := DeadLetterReasons()
	seen := map[Reason]int{}
	for _, r := range got {
		seen[r]++
	}
	for _, r := range append(DecodeReasons(), IngestReasons()...) {
		if seen[r] != 1 {
			t.Errorf("reason %s appears %d times in DeadLetterReasons, want once", r, seen[r])
		}
	}
	if len(got) != len(seen) {
		t.Errorf("DeadLetterReasons has duplicates: %v", got)
	}
}
