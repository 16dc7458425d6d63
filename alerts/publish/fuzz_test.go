package publish_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/resilience-project/resilience/alerts/publish"
)

// OpenFile reads any bytes without panicking: either ErrCorrupt, or
// records that each name an alert (and an identifier when issued), and a
// log that takes the next append and reopens with it.
func FuzzOpenFile(f *testing.F) {
	f.Add([]byte(`{"identifier":"a.1","alert_id":"a","seq":1,"msg_type":"Alert","doc":"PHgvPg=="}` + "\n"))
	f.Add([]byte(`{"kind":"discard","alert_id":"a","msg_type":"Update","all_clear":true,"event_at":"2026-10-28T03:00:00Z"}` + "\n" + `{"identifier":"a.2","al`))
	f.Add([]byte("not json\n"))
	f.Add([]byte(`{"kind":"other","alert_id":"a"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "cap.log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := publish.OpenFile(path)
		if err != nil {
			if !errors.Is(err, publish.ErrCorrupt) {
				t.Fatalf("OpenFile = %v, want nil or ErrCorrupt", err)
			}
			return
		}
		recs, _ := l.Records(context.Background())
		for _, r := range recs {
			if r.AlertID == "" || (r.Kind == publish.KindIssued && r.Identifier == "") {
				t.Fatalf("record without alert or identifier accepted: %+v", r)
			}
		}
		next := publish.Record{Identifier: "z.1", AlertID: "z", Seq: 1, MsgType: "Alert", Doc: []byte("<x/>")}
		if err := l.Append(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l2, err := publish.OpenFile(path)
		if err != nil {
			t.Fatalf("reopen after an append: %v", err)
		}
		defer l2.Close()
		again, _ := l2.Records(context.Background())
		if len(again) != len(recs)+1 || again[len(again)-1].Identifier != "z.1" {
			t.Fatalf("reopened %d records, want %d ending with z.1", len(again), len(recs)+1)
		}
	})
}
