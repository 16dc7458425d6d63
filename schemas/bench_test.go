package schemas

import (
	"fmt"
	"strings"
	"testing"
)

func benchDecode(b *testing.B, topic string, payload []byte, wantRecs int) {
	d := testDecoder(b)
	recs, err := d.Decode(topic, payload, testNow)
	if err != nil || len(recs) != wantRecs {
		b.Fatalf("%d records, %v", len(recs), err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(topic, payload, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeV1 decodes one v1 message with two readings.
func BenchmarkDecodeV1(b *testing.B) {
	payload := []byte(`{"v":1,"station":"ST-1","seq":1042,"boot":3,"ts":"2025-10-28T02:50:00Z","readings":[{"sensor":"water_level","value":7.12,"unit":"m"},{"sensor":"rainfall","value":3.5,"unit":"mm"}],"battery":3.92,"rssi":-87}`)
	benchDecode(b, topic1, payload, 1)
}

// BenchmarkDecodeBatch decodes a JSON array of 50 v1 messages.
func BenchmarkDecodeBatch(b *testing.B) {
	var msgs []string
	for i := range 50 {
		msgs = append(msgs, fmt.Sprintf(`{"v":1,"station":"ST-1","seq":%d,"boot":3,"ts":%d,"readings":[{"sensor":"water_level","value":%d,"unit":"cm"},{"sensor":"rainfall","value":0.5,"unit":"mm"}],"battery":3.92}`,
			i, testNow.Add(-60*60*1e9).UnixMilli()+int64(i)*60000, 700+i))
	}
	benchDecode(b, topic1, []byte("["+strings.Join(msgs, ",")+"]"), 50)
}

// BenchmarkDecodeSenML decodes a SenML pack of one message: base name and
// time, two readings, battery and seq.
func BenchmarkDecodeSenML(b *testing.B) {
	payload := []byte(`[{"bn":"ST-1:","bt":1761619800,"n":"water_level","u":"m","v":7.12},{"n":"rainfall","u":"mm","v":3.5},{"n":"battery","u":"V","v":3.92},{"n":"seq","v":1042}]`)
	benchDecode(b, senml1, payload, 1)
}

// BenchmarkRejectBadTopic is the cost of dropping a message on a bad topic.
func BenchmarkRejectBadTopic(b *testing.B) {
	d := testDecoder(b)
	payload := []byte(msg(okTS, wl712))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode("stations/+/readings", payload, testNow); err == nil {
			b.Fatal("accepted")
		}
	}
}
