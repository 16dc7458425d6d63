package cap_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/schemas"
)

// FuzzParse: Parse never panics, and what it accepts marshals and parses
// back to the same document.
func FuzzParse(f *testing.F) {
	b, err := cap.NewBuilder(cap.Config{Sender: "s"})
	if err != nil {
		f.Fatal(err)
	}
	ev := event(schemas.WaterLevel, schemas.AlertFired, 3, schemas.SeveritySevere)
	a, err := b.Build(cap.Issue{MsgType: cap.MsgAlert, Seq: 1, Event: ev, Station: station, Sent: time.Unix(1.8e9, 0)})
	if err != nil {
		f.Fatal(err)
	}
	doc, err := cap.Marshal(a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"></alert>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := cap.Parse(data)
		if err != nil {
			return
		}
		out, err := cap.Marshal(a)
		if err != nil {
			t.Fatalf("accepted document does not marshal: %v", err)
		}
		b, err := cap.Parse(out)
		if err != nil {
			t.Fatalf("marshalled document does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normal(a), normal(b)) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", a, b)
		}
	})
}

func normal(a *cap.Alert) cap.Alert {
	c := *a
	c.XMLName.Local, c.XMLName.Space = "", ""
	return c
}
