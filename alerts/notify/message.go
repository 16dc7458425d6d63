package notify

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Notification is one message to one channel of one receiver: the alerts
// of one group (one incident), as the dispatcher decided to send them.
//
// ID is deterministic (see alerts/nflog.Key): a resend after a crash
// carries the same ID, and channels pass it on as the idempotency key
// (webhook header X-Resilience-Notification-Id, email Message-ID, siren
// command id) so that a receiver can drop the duplicate.
type Notification struct {
	ID       string `json:"id"`
	Receiver string `json:"receiver"`
	// Target is the receiver's channel, e.g. "duty/webhook[0]".
	Target   string `json:"target"`
	Route    string `json:"route"`
	GroupKey string `json:"group_key"`
	// Tier is 0 for the route's receivers, n for escalation tier n.
	Tier int `json:"tier"`
	// Repeat counts re-sends of an unchanged, unacknowledged group (0 first).
	Repeat int                  `json:"repeat"`
	Alerts []schemas.AlertEvent `json:"alerts"`
	At     time.Time            `json:"at"`
}

// Channel delivers notifications; Send must be safe for concurrent use and
// return an error for a delivery that may not have happened (it is retried
// with the same Notification, so the same ID).
type Channel interface {
	Name() string
	Send(ctx context.Context, n Notification) error
}

// Languages of message texts.
const (
	LangVI = "vi"
	LangEN = "en"
)

// Facts are what an operator needs at a glance about one alert event,
// computed from the event and the station registry.
type Facts struct {
	Event       schemas.AlertEvent
	StationName string
	River       string
	Unit        string
	// Reached is the name of the official level the value has reached
	// (BĐ I/II/III), "" below the first or without levels.
	Reached string
	// NextName and ToNext: the next official level above the value and the
	// distance to it; HasNext is false above the last level or without levels.
	NextName string
	ToNext   float64
	HasNext  bool
	// RatePerHour is the rate of change between the event's first and last
	// reading refs; HasRate needs two refs at different times.
	RatePerHour float64
	HasRate     bool
	// ETA is the time to the next level at the current rate, only while
	// rising towards it.
	ETA    time.Duration
	HasETA bool
	// Link is the alert in the operator console ("" without a base URL).
	Link string
}

// levelNames are the official alarm level names, lowest first.
func levelNames() [3]string { return [3]string{"BĐ I", "BĐ II", "BĐ III"} }

// FactsOf computes Facts; reg may be nil (no station names, no levels).
// consoleBase is the console's base URL, e.g. https://console.example/.
func FactsOf(e schemas.AlertEvent, reg *schemas.Registry, consoleBase string) Facts {
	f := Facts{Event: e, StationName: e.Station}
	if spec, ok := schemas.Specs[e.Sensor]; ok {
		f.Unit = spec.Unit
	}
	var lv schemas.Levels
	if st := reg.Lookup(e.Station); st != nil {
		f.StationName, f.River = st.Name, st.River
		switch e.Sensor {
		case schemas.WaterLevel:
			lv = st.AlarmLevelsM
		case schemas.FloodDepth:
			lv = st.FloodDepthLevelsCM
		}
	}
	if lv.Set() {
		for i, l := range [3]float64{lv.I, lv.II, lv.III} {
			if e.Value >= l {
				f.Reached = levelNames()[i]
				continue
			}
			f.NextName, f.ToNext, f.HasNext = levelNames()[i], l-e.Value, true
			break
		}
	}
	if n := len(e.Readings); n >= 2 {
		a, b := e.Readings[0], e.Readings[n-1]
		if dt := b.TS.Sub(a.TS).Hours(); dt > 0 {
			f.RatePerHour, f.HasRate = (b.Value-a.Value)/dt, true
		}
	}
	if f.HasNext && f.HasRate && f.RatePerHour > 0 {
		h := f.ToNext / f.RatePerHour
		if h < 24*365 {
			f.ETA, f.HasETA = time.Duration(h*float64(time.Hour)).Round(time.Minute), true
		}
	}
	if consoleBase != "" {
		f.Link = strings.TrimRight(consoleBase, "/") + "/alerts/" + url.PathEscape(e.ID)
	}
	return f
}

// Text is a rendered message.
type Text struct {
	Subject string
	Body    string
}

// kindWord is the tag of an alert event kind in a message.
func kindWord(vi bool, k schemas.AlertKind) string {
	words := map[schemas.AlertKind][2]string{schemas.AlertFired: {"CẢNH BÁO", "ALERT"}, schemas.AlertEscalated: {"NÂNG MỨC", "ESCALATED"},
		schemas.AlertDeescalated: {"HẠ MỨC", "DE-ESCALATED"}, schemas.AlertResolved: {"KẾT THÚC", "RESOLVED"}}
	w, ok := words[k]
	switch {
	case !ok:
		return strings.ToUpper(string(k))
	case vi:
		return w[0]
	}
	return w[1]
}

// Line renders one alert's facts as one short paragraph in lang (vi or en;
// anything else is en).
func Line(f Facts, lang string) string {
	vi := lang == LangVI
	e := f.Event
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s (%s)", kindWord(vi, e.Kind), f.StationName, e.Station)
	if f.River != "" {
		if vi {
			fmt.Fprintf(&b, ", sông %s", f.River)
		} else {
			fmt.Fprintf(&b, ", %s river", f.River)
		}
	}
	level := e.LevelName
	if f.Reached != "" {
		level = f.Reached
	}
	if vi {
		fmt.Fprintf(&b, ": %s %s %s", e.Rule, num(e.Value), f.Unit)
		if level != "" {
			fmt.Fprintf(&b, ", đạt %s", level)
		}
		if f.HasNext {
			fmt.Fprintf(&b, ", còn %s %s đến %s", num(f.ToNext), f.Unit, f.NextName)
		}
		if f.HasETA && e.Kind != schemas.AlertResolved {
			fmt.Fprintf(&b, ", dự kiến đạt %s sau %s (đang lên %s %s/giờ)", f.NextName, dur(f.ETA), num(f.RatePerHour), f.Unit)
		}
		fmt.Fprintf(&b, ". Mức độ: %s. Lúc %s", e.Severity, e.At.In(ict()).Format("15:04 02/01/2006"))
	} else {
		fmt.Fprintf(&b, ": %s %s %s", e.Rule, num(e.Value), f.Unit)
		if level != "" {
			fmt.Fprintf(&b, ", reached %s", level)
		}
		if f.HasNext {
			fmt.Fprintf(&b, ", %s %s below %s", num(f.ToNext), f.Unit, f.NextName)
		}
		if f.HasETA && e.Kind != schemas.AlertResolved {
			fmt.Fprintf(&b, ", %s expected in %s (rising %s %s/h)", f.NextName, dur(f.ETA), num(f.RatePerHour), f.Unit)
		}
		fmt.Fprintf(&b, ". Severity: %s. At %s", e.Severity, e.At.In(ict()).Format("15:04 02 Jan 2006"))
	}
	b.WriteString(" (ICT)")
	if f.Link != "" {
		b.WriteString(". ")
		b.WriteString(f.Link)
	}
	return b.String()
}

// Render renders a notification in lang: the subject names the first
// alert's station and level, the body has one Line per alert.
func Render(n Notification, reg *schemas.Registry, consoleBase, lang string) Text {
	var t Text
	var lines []string
	for i, e := range n.Alerts {
		f := FactsOf(e, reg, consoleBase)
		lines = append(lines, Line(f, lang))
		if i == 0 {
			t.Subject = strings.SplitN(lines[0], ":", 2)[0]
			if len(n.Alerts) > 1 {
				if lang == LangVI {
					t.Subject += fmt.Sprintf(" và %d cảnh báo khác", len(n.Alerts)-1)
				} else {
					t.Subject += fmt.Sprintf(" and %d more", len(n.Alerts)-1)
				}
			}
		}
	}
	t.Body = strings.Join(lines, "\n\n")
	return t
}

// ict is Indochina Time (UTC+7), the time operators read.
func ict() *time.Location { return time.FixedZone("ICT", 7*3600) }

func num(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func dur(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
