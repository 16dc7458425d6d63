package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Namespace is the CAP 1.2 XML namespace.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// ContentType is the media type of a CAP document.
const ContentType = "application/cap+xml"

// ErrInvalid is returned (wrapped, naming the field) by Validate, Marshal
// and Parse for a document that breaks CAP 1.2.
var ErrInvalid = errors.New("cap: invalid document")

// TimeLayout is the CAP date-time form: seconds and an explicit offset.
const TimeLayout = "2006-01-02T15:04:05-07:00"

// Time is a CAP date-time. It marshals in TimeLayout (never "Z", never
// fractional seconds) and keeps the offset it was given.
type Time struct{ time.Time }

// MarshalText implements encoding.TextMarshaler.
func (t Time) MarshalText() ([]byte, error) {
	return []byte(t.Truncate(time.Second).Format(TimeLayout)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts TimeLayout
// only.
func (t *Time) UnmarshalText(b []byte) error {
	v, err := time.Parse(TimeLayout, strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%w: date-time %q: want %s", ErrInvalid, b, TimeLayout)
	}
	t.Time = v
	return nil
}

// String is the CAP form of t.
func (t Time) String() string { b, _ := t.MarshalText(); return string(b) }

// Status is the alert's status.
type Status string

// Statuses.
const (
	StatusActual   Status = "Actual"
	StatusExercise Status = "Exercise"
	StatusSystem   Status = "System"
	StatusTest     Status = "Test"
	StatusDraft    Status = "Draft"
)

// MsgType is the kind of message.
type MsgType string

// Message types.
const (
	MsgAlert  MsgType = "Alert"
	MsgUpdate MsgType = "Update"
	MsgCancel MsgType = "Cancel"
	MsgAck    MsgType = "Ack"
	MsgError  MsgType = "Error"
)

// Scope is who the message is for.
type Scope string

// Scopes.
const (
	ScopePublic     Scope = "Public"
	ScopeRestricted Scope = "Restricted"
	ScopePrivate    Scope = "Private"
)

// Category of the event.
type Category string

// Categories used here (CAP has more).
const (
	CategoryGeo    Category = "Geo"
	CategoryMet    Category = "Met"
	CategorySafety Category = "Safety"
	CategoryInfra  Category = "Infra"
	CategoryOther  Category = "Other"
)

// ResponseType is the recommended action.
type ResponseType string

// Response types.
const (
	ResponseShelter  ResponseType = "Shelter"
	ResponseEvacuate ResponseType = "Evacuate"
	ResponsePrepare  ResponseType = "Prepare"
	ResponseExecute  ResponseType = "Execute"
	ResponseAvoid    ResponseType = "Avoid"
	ResponseMonitor  ResponseType = "Monitor"
	ResponseAssess   ResponseType = "Assess"
	ResponseAllClear ResponseType = "AllClear"
	ResponseNone     ResponseType = "None"
)

// Urgency of the event.
type Urgency string

// Urgencies.
const (
	UrgencyImmediate Urgency = "Immediate"
	UrgencyExpected  Urgency = "Expected"
	UrgencyFuture    Urgency = "Future"
	UrgencyPast      Urgency = "Past"
	UrgencyUnknown   Urgency = "Unknown"
)

// Severity of the event.
type Severity string

// Severities.
const (
	SeverityExtreme  Severity = "Extreme"
	SeveritySevere   Severity = "Severe"
	SeverityModerate Severity = "Moderate"
	SeverityMinor    Severity = "Minor"
	SeverityUnknown  Severity = "Unknown"
)

// Certainty of the event.
type Certainty string

// Certainties.
const (
	CertaintyObserved Certainty = "Observed"
	CertaintyLikely   Certainty = "Likely"
	CertaintyPossible Certainty = "Possible"
	CertaintyUnlikely Certainty = "Unlikely"
	CertaintyUnknown  Certainty = "Unknown"
)

// Alert is a CAP 1.2 alert message (the fields this project writes, in
// the XSD's order).
type Alert struct {
	XMLName    xml.Name `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier string   `xml:"identifier"`
	Sender     string   `xml:"sender"`
	Sent       Time     `xml:"sent"`
	Status     Status   `xml:"status"`
	MsgType    MsgType  `xml:"msgType"`
	Source     string   `xml:"source,omitempty"`
	Scope      Scope    `xml:"scope"`
	Note       string   `xml:"note,omitempty"`
	References string   `xml:"references,omitempty"`
	Incidents  string   `xml:"incidents,omitempty"`
	Info       []Info   `xml:"info"`
}

// Info is one info block (one per language).
type Info struct {
	Language     string         `xml:"language,omitempty"`
	Category     []Category     `xml:"category"`
	Event        string         `xml:"event"`
	ResponseType []ResponseType `xml:"responseType,omitempty"`
	Urgency      Urgency        `xml:"urgency"`
	Severity     Severity       `xml:"severity"`
	Certainty    Certainty      `xml:"certainty"`
	EventCode    []NamedValue   `xml:"eventCode,omitempty"`
	Effective    *Time          `xml:"effective,omitempty"`
	Onset        *Time          `xml:"onset,omitempty"`
	Expires      *Time          `xml:"expires,omitempty"`
	SenderName   string         `xml:"senderName,omitempty"`
	Headline     string         `xml:"headline,omitempty"`
	Description  string         `xml:"description,omitempty"`
	Instruction  string         `xml:"instruction,omitempty"`
	Web          string         `xml:"web,omitempty"`
	Contact      string         `xml:"contact,omitempty"`
	Parameter    []NamedValue   `xml:"parameter,omitempty"`
	Area         []Area         `xml:"area,omitempty"`
}

// NamedValue is a valueName/value pair (eventCode, parameter, geocode).
type NamedValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// Area is an affected area: a description and, here, circles
// ("lat,lon radius_km").
type Area struct {
	AreaDesc string       `xml:"areaDesc"`
	Polygon  []string     `xml:"polygon,omitempty"`
	Circle   []string     `xml:"circle,omitempty"`
	Geocode  []NamedValue `xml:"geocode,omitempty"`
}

// Ref is one earlier document, as an Update or Cancel names it.
type Ref struct {
	Sender     string
	Identifier string
	Sent       Time
}

// String is the CAP references form "sender,identifier,sent".
func (r Ref) String() string { return r.Sender + "," + r.Identifier + "," + r.Sent.String() }

// RefOf is the reference to a.
func RefOf(a *Alert) Ref { return Ref{Sender: a.Sender, Identifier: a.Identifier, Sent: a.Sent} }

// JoinRefs is the references element for refs (space separated).
func JoinRefs(refs []Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, " ")
}

// ValidToken reports whether s is usable as a CAP identifier or sender:
// non-empty, no whitespace, comma, '<' or '&'.
func ValidToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n,<&")
}

func oneOf[T ~string](v T, all ...T) bool {
	for _, x := range all {
		if v == x {
			return true
		}
	}
	return false
}

// Validate checks what the XSD requires and what it cannot express; every
// problem wraps ErrInvalid and names the field.
func (a *Alert) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if !ValidToken(a.Identifier) {
		bad("identifier %q: required, without spaces, commas, '<' or '&'", a.Identifier)
	}
	if !ValidToken(a.Sender) {
		bad("sender %q: required, without spaces, commas, '<' or '&'", a.Sender)
	}
	if a.Sent.IsZero() {
		bad("sent: required")
	}
	if !oneOf(a.Status, StatusActual, StatusExercise, StatusSystem, StatusTest, StatusDraft) {
		bad("status %q", a.Status)
	}
	if !oneOf(a.MsgType, MsgAlert, MsgUpdate, MsgCancel, MsgAck, MsgError) {
		bad("msgType %q", a.MsgType)
	}
	if !oneOf(a.Scope, ScopePublic, ScopeRestricted, ScopePrivate) {
		bad("scope %q", a.Scope)
	}
	if a.MsgType != MsgAlert && a.References == "" {
		bad("references: required for msgType %s", a.MsgType)
	}
	for i, r := range strings.Fields(a.References) {
		if p := strings.Split(r, ","); len(p) != 3 || !ValidToken(p[0]) || !ValidToken(p[1]) {
			bad("references[%d] %q: want sender,identifier,sent", i, r)
		} else if _, err := time.Parse(TimeLayout, p[2]); err != nil {
			bad("references[%d] %q: sent: want %s", i, r, TimeLayout)
		}
	}
	langs := map[string]bool{}
	for i, in := range a.Info {
		if langs[in.Language] {
			bad("info[%d].language %q: two info blocks in one language", i, in.Language)
		}
		langs[in.Language] = true
		if len(in.Category) == 0 {
			bad("info[%d].category: required", i)
		}
		if in.Event == "" {
			bad("info[%d].event: required", i)
		}
		if !oneOf(in.Urgency, UrgencyImmediate, UrgencyExpected, UrgencyFuture, UrgencyPast, UrgencyUnknown) {
			bad("info[%d].urgency %q", i, in.Urgency)
		}
		if !oneOf(in.Severity, SeverityExtreme, SeveritySevere, SeverityModerate, SeverityMinor, SeverityUnknown) {
			bad("info[%d].severity %q", i, in.Severity)
		}
		if !oneOf(in.Certainty, CertaintyObserved, CertaintyLikely, CertaintyPossible, CertaintyUnlikely, CertaintyUnknown) {
			bad("info[%d].certainty %q", i, in.Certainty)
		}
		for j, ar := range in.Area {
			if ar.AreaDesc == "" {
				bad("info[%d].area[%d].areaDesc: required", i, j)
			}
		}
	}
	return errors.Join(errs...)
}

// Marshal validates a and writes it as an XML document (with the XML
// declaration, UTF-8, indented).
func Marshal(a *Alert) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("cap %s: %w", a.Identifier, err)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("cap %s: %w", a.Identifier, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// MaxDocumentBytes bounds what Parse reads.
const MaxDocumentBytes = 1 << 20

// Parse reads a CAP 1.2 document and validates it. A root element other
// than {urn:oasis:names:tc:emergency:cap:1.2}alert is ErrInvalid.
func Parse(data []byte) (*Alert, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrInvalid, len(data), MaxDocumentBytes)
	}
	var a Alert
	if err := xml.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}
