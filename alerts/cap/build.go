package cap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/resilience-project/resilience/schemas"
)

// Languages of the two info blocks.
const (
	LangVI = "vi-VN"
	LangEN = "en-US"
)

// Defaults of Config.
const (
	DefaultRadiusKM        = 5.0
	DefaultExpires         = 24 * time.Hour
	DefaultAllClearExpires = time.Hour
)

// ErrConfig is returned (wrapped, naming the key) by NewBuilder for an
// unusable configuration.
var ErrConfig = errors.New("cap: invalid configuration")

// Config is the sender's configuration.
type Config struct {
	// Sender identifies the issuing authority (required; e.g.
	// "pctt.danang.gov.vn"; no spaces or commas).
	Sender string
	// SenderNameVI and SenderNameEN are the human-readable sender names.
	SenderNameVI, SenderNameEN string
	// IdentifierPrefix is put before every identifier (e.g.
	// "vn.danang.pctt."); it must keep identifiers free of spaces and commas.
	IdentifierPrefix string
	// Status of issued documents (default Actual; Exercise or Test for
	// drills).
	Status Status
	// RadiusKM is the radius of the circle around the station (default 5).
	RadiusKM float64
	// Location is the time zone of sent/onset/expires (default UTC+07:00).
	Location *time.Location
	// Expires is how long a warning stays valid after it is sent (default
	// 24 h).
	Expires time.Duration
	// AllClearExpires is how long an all-clear stays valid (default 1 h:
	// CAP practice gives the all-clear a short expiry).
	AllClearExpires time.Duration
	// Severity maps an alert severity to the CAP severity (default: the
	// same name; schemas.Severity follows CAP).
	Severity map[schemas.Severity]Severity
	// Urgency maps an alert severity to the CAP urgency (default Extreme
	// and Severe: Immediate, Moderate: Expected, Minor: Future).
	Urgency map[schemas.Severity]Urgency
	// Web and Contact go into every info block when set.
	Web, Contact string
}

// Text is the editable wording of one info block.
type Text struct {
	Headline    string `json:"headline"`
	Description string `json:"description"`
	Instruction string `json:"instruction"`
}

// Texts is the wording in both languages.
type Texts struct {
	VI Text `json:"vi"`
	EN Text `json:"en"`
}

// Builder builds CAP documents for one sender.
type Builder struct{ c Config }

// NewBuilder checks c and fills its defaults.
func NewBuilder(c Config) (*Builder, error) {
	var errs []error
	if !ValidToken(c.Sender) {
		errs = append(errs, fmt.Errorf("%w: sender %q: required, without spaces, commas, '<' or '&'", ErrConfig, c.Sender))
	}
	if c.IdentifierPrefix != "" && !ValidToken(c.IdentifierPrefix) {
		errs = append(errs, fmt.Errorf("%w: identifier_prefix %q: no spaces, commas, '<' or '&'", ErrConfig, c.IdentifierPrefix))
	}
	if c.Status == "" {
		c.Status = StatusActual
	}
	if !oneOf(c.Status, StatusActual, StatusExercise, StatusSystem, StatusTest, StatusDraft) {
		errs = append(errs, fmt.Errorf("%w: status %q", ErrConfig, c.Status))
	}
	if c.RadiusKM == 0 {
		c.RadiusKM = DefaultRadiusKM
	}
	if !(c.RadiusKM > 0 && c.RadiusKM <= 1000) {
		errs = append(errs, fmt.Errorf("%w: radius_km %g: want (0, 1000]", ErrConfig, c.RadiusKM))
	}
	if c.Location == nil {
		c.Location = time.FixedZone("ICT", 7*3600)
	}
	if c.Expires == 0 {
		c.Expires = DefaultExpires
	}
	if c.Expires < 0 {
		errs = append(errs, fmt.Errorf("%w: expires %s: must be positive", ErrConfig, c.Expires))
	}
	if c.AllClearExpires == 0 {
		c.AllClearExpires = DefaultAllClearExpires
	}
	if c.AllClearExpires < 0 {
		errs = append(errs, fmt.Errorf("%w: all_clear_expires %s: must be positive", ErrConfig, c.AllClearExpires))
	}
	sev := map[schemas.Severity]Severity{
		schemas.SeverityMinor: SeverityMinor, schemas.SeverityModerate: SeverityModerate,
		schemas.SeveritySevere: SeveritySevere, schemas.SeverityExtreme: SeverityExtreme,
	}
	for k, v := range c.Severity {
		if !oneOf(v, SeverityExtreme, SeveritySevere, SeverityModerate, SeverityMinor, SeverityUnknown) {
			errs = append(errs, fmt.Errorf("%w: severity[%s] %q", ErrConfig, k, v))
		}
		sev[k] = v
	}
	c.Severity = sev
	urg := map[schemas.Severity]Urgency{
		schemas.SeverityMinor: UrgencyFuture, schemas.SeverityModerate: UrgencyExpected,
		schemas.SeveritySevere: UrgencyImmediate, schemas.SeverityExtreme: UrgencyImmediate,
	}
	for k, v := range c.Urgency {
		if !oneOf(v, UrgencyImmediate, UrgencyExpected, UrgencyFuture, UrgencyPast, UrgencyUnknown) {
			errs = append(errs, fmt.Errorf("%w: urgency[%s] %q", ErrConfig, k, v))
		}
		urg[k] = v
	}
	c.Urgency = urg
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Builder{c: c}, nil
}

// Sender is the configured sender.
func (b *Builder) Sender() string { return b.c.Sender }

// Identifier is the identifier of the seq-th document (1-based) about the
// alert alertID: stable, so a document re-issued after a crash keeps it.
func (b *Builder) Identifier(alertID string, seq int) string {
	return b.c.IdentifierPrefix + alertID + "." + strconv.Itoa(seq)
}

// Issue is what one document is built from.
type Issue struct {
	// MsgType is Alert for the first document of an alert, Update after
	// an escalation and for the all-clear (an Event of kind resolved:
	// responseType AllClear, urgency Past, a short expiry), Cancel to
	// retract (also written as an all-clear).
	MsgType MsgType
	// Seq is the document's number within the alert (1-based).
	Seq int
	// Event is the alert event the document reports.
	Event schemas.AlertEvent
	// Station is the event's station: the area is a circle around it
	// and its district.
	Station *schemas.Station
	// Area is, for an event of a basin (Station nil), the basin's
	// stations: the area is a circle around each, described by the basin
	// and their districts.
	Area []*schemas.Station
	// Sent is when the document is issued.
	Sent time.Time
	// References are the earlier documents (required for Update and
	// Cancel).
	References []Ref
	// Texts is the wording; an empty field takes the generated text
	// (DefaultTexts).
	Texts Texts
}

// Build builds and validates the document for in.
func (b *Builder) Build(in Issue) (*Alert, error) {
	if in.Station == nil && len(in.Area) == 0 {
		return nil, fmt.Errorf("cap: alert %s station %s: %w: unknown station and no basin stations", in.Event.ID, in.Event.Station, ErrInvalid)
	}
	if in.Seq < 1 {
		return nil, fmt.Errorf("cap: alert %s: %w: seq %d must be >= 1", in.Event.ID, ErrInvalid, in.Seq)
	}
	def := b.DefaultTexts(in.MsgType, in.Event, in.Station)
	texts := Texts{VI: merge(in.Texts.VI, def.VI), EN: merge(in.Texts.EN, def.EN)}
	sent := Time{in.Sent.In(b.c.Location).Truncate(time.Second)}
	a := &Alert{
		Identifier: b.Identifier(in.Event.ID, in.Seq),
		Sender:     b.c.Sender,
		Sent:       sent,
		Status:     b.c.Status,
		MsgType:    in.MsgType,
		Scope:      ScopePublic,
		References: JoinRefs(in.References),
		Incidents:  b.c.IdentifierPrefix + in.Event.ID,
	}
	for _, lang := range []string{LangVI, LangEN} {
		t, name := texts.VI, b.c.SenderNameVI
		if lang == LangEN {
			t, name = texts.EN, b.c.SenderNameEN
		}
		a.Info = append(a.Info, b.info(lang, in, sent, t, name))
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("cap: alert %s station %s: %w", in.Event.ID, in.Event.Station, err)
	}
	return a, nil
}

func merge(t, def Text) Text {
	if t.Headline == "" {
		t.Headline = def.Headline
	}
	if t.Description == "" {
		t.Description = def.Description
	}
	if t.Instruction == "" {
		t.Instruction = def.Instruction
	}
	return t
}

func (b *Builder) info(lang string, in Issue, sent Time, t Text, senderName string) Info {
	ev, st := in.Event, in.Station
	h := hazardOf(ev.Sensor)
	event := h.en
	if lang == LangVI {
		event = h.vi
	}
	urgency, ok := b.c.Urgency[ev.Severity]
	if !ok {
		urgency = UrgencyUnknown
	}
	severity, ok := b.c.Severity[ev.Severity]
	if !ok {
		severity = SeverityUnknown
	}
	resp := responseOf(ev.Severity)
	expires := Time{sent.Add(b.c.Expires)}
	if IsAllClear(in.MsgType, ev) {
		resp, urgency = ResponseAllClear, UrgencyPast
		expires = Time{sent.Add(b.c.AllClearExpires)}
	}
	onset := Time{ev.StartedAt.In(b.c.Location)}
	in2 := Info{
		Language:     lang,
		Category:     []Category{h.category},
		Event:        event,
		ResponseType: []ResponseType{resp},
		Urgency:      urgency,
		Severity:     severity,
		Certainty:    CertaintyObserved,
		Expires:      &expires,
		SenderName:   senderName,
		Headline:     t.Headline,
		Description:  t.Description,
		Instruction:  t.Instruction,
		Web:          b.c.Web,
		Contact:      b.c.Contact,
		Parameter: []NamedValue{
			{ValueName: "station", Value: ev.Station},
			{ValueName: "sensor", Value: string(ev.Sensor)},
			{ValueName: "rule", Value: ev.Rule},
			{ValueName: "level", Value: strconv.Itoa(ev.Level)},
			{ValueName: "value", Value: strconv.FormatFloat(ev.Value, 'f', -1, 64)},
			{ValueName: "threshold", Value: strconv.FormatFloat(ev.Threshold, 'f', -1, 64)},
		},
		Area: []Area{b.area(ev, st, in.Area)},
	}
	if !ev.StartedAt.IsZero() {
		in2.Onset = &onset
	}
	return in2
}

// Circle is the CAP circle "lat,lon radius_km" (WGS 84).
func Circle(lat, lon, radiusKM float64) string {
	return strconv.FormatFloat(lat, 'f', 5, 64) + "," + strconv.FormatFloat(lon, 'f', 5, 64) + " " + strconv.FormatFloat(radiusKM, 'f', -1, 64)
}

// area is the circle around st, or (st nil) one around each of the
// basin's stations.
func (b *Builder) area(ev schemas.AlertEvent, st *schemas.Station, basin []*schemas.Station) Area {
	if st != nil {
		return Area{AreaDesc: areaDesc(st), Circle: []string{Circle(st.Lat, st.Lon, b.c.RadiusKM)}}
	}
	a := Area{}
	var districts []string
	seen := map[string]bool{}
	for _, s := range basin {
		a.Circle = append(a.Circle, Circle(s.Lat, s.Lon, b.c.RadiusKM))
		if s.District != "" && !seen[s.District] {
			seen[s.District] = true
			districts = append(districts, s.District)
		}
	}
	a.AreaDesc = ev.Basin
	if len(districts) > 0 {
		a.AreaDesc += " (" + strings.Join(districts, ", ") + ")"
	}
	if a.AreaDesc == "" {
		a.AreaDesc = ev.Station
	}
	return a
}

func areaDesc(st *schemas.Station) string {
	switch {
	case st.District != "" && st.Name != "":
		return st.District + " (" + st.Name + ")"
	case st.District != "":
		return st.District
	case st.Name != "":
		return st.Name
	}
	return st.ID
}

type hazard struct {
	category Category
	vi, en   string
}

func hazardOf(s schemas.Sensor) hazard {
	switch s {
	case schemas.WaterLevel:
		return hazard{CategoryMet, "Lũ", "Flood"}
	case schemas.FloodDepth:
		return hazard{CategoryMet, "Ngập lụt", "Inundation"}
	case schemas.Rainfall:
		return hazard{CategoryMet, "Mưa lớn", "Heavy rain"}
	case schemas.WindSpeed, schemas.WindGust:
		return hazard{CategoryMet, "Gió mạnh", "Strong wind"}
	case schemas.Tilt, schemas.SoilMoisture:
		return hazard{CategoryGeo, "Sạt lở đất", "Landslide"}
	}
	return hazard{CategoryOther, "Cảnh báo thiên tai", "Hazard warning"}
}

func responseOf(s schemas.Severity) ResponseType {
	switch s {
	case schemas.SeverityExtreme:
		return ResponseEvacuate
	case schemas.SeveritySevere:
		return ResponsePrepare
	}
	return ResponseMonitor
}

// IsAllClear reports whether a document of kind about ev is an all-clear:
// a Cancel, or any document about a resolved alert (CAP practice, e.g.
// Google Public Alerts: the end of a hazard is an Update with
// responseType AllClear; Cancel retracts a message).
func IsAllClear(kind MsgType, ev schemas.AlertEvent) bool {
	return kind == MsgCancel || ev.Kind == schemas.AlertResolved
}

// DefaultTexts is the generated wording for a document about ev at st,
// which a publisher may edit before approving.
func (b *Builder) DefaultTexts(kind MsgType, ev schemas.AlertEvent, st *schemas.Station) Texts {
	if st == nil {
		return b.basinTexts(kind, ev)
	}
	h := hazardOf(ev.Sensor)
	place, river := st.ID, ""
	if st.Name != "" {
		place = st.Name
	}
	if st.River != "" {
		river = st.River
	}
	lvlVI, lvlEN := ev.LevelName, ev.LevelName
	if ev.LevelNameVI != "" {
		lvlVI = ev.LevelNameVI
	}
	if ev.LevelNameEN != "" {
		lvlEN = ev.LevelNameEN
	}
	unit := schemas.Specs[ev.Sensor].Unit
	at := ev.At.In(b.c.Location).Format("15:04 02/01/2006")
	val := strconv.FormatFloat(ev.Value, 'f', 2, 64)
	thr := strconv.FormatFloat(ev.Threshold, 'f', 2, 64)
	var t Texts
	if IsAllClear(kind, ev) {
		t.VI = Text{
			Headline:    fmt.Sprintf("Kết thúc cảnh báo %s tại %s", lower(h.vi), place),
			Description: fmt.Sprintf("Trạm %s: %s đã xuống dưới ngưỡng cảnh báo lúc %s.", place, ev.Sensor, at),
			Instruction: "Cảnh báo đã kết thúc. Tiếp tục theo dõi thông tin từ chính quyền địa phương.",
		}
		t.EN = Text{
			Headline:    fmt.Sprintf("All clear: %s at %s", lower(h.en), place),
			Description: fmt.Sprintf("Station %s: %s fell below the warning threshold at %s.", place, ev.Sensor, at),
			Instruction: "The warning has ended. Keep following the local authorities.",
		}
		return t
	}
	prefixVI, prefixEN := "", ""
	if kind == MsgUpdate {
		prefixVI, prefixEN = "Cập nhật: ", "Update: "
	}
	onRiverVI, onRiverEN := "", ""
	if river != "" {
		onRiverVI, onRiverEN = " (sông "+river+")", " ("+river+" river)"
	}
	t.VI = Text{
		Headline:    fmt.Sprintf("%sCảnh báo %s %s tại %s%s", prefixVI, lower(h.vi), lvlVI, place, onRiverVI),
		Description: fmt.Sprintf("Trạm %s đo %s = %s %s lúc %s, vượt ngưỡng %s %s.", place, ev.Sensor, val, unit, at, thr, unit),
		Instruction: instructionVI(ev.Severity),
	}
	t.EN = Text{
		Headline:    fmt.Sprintf("%s%s warning %s at %s%s", prefixEN, h.en, lvlEN, place, onRiverEN),
		Description: fmt.Sprintf("Station %s measured %s = %s %s at %s, above the threshold of %s %s.", place, ev.Sensor, val, unit, at, thr, unit),
		Instruction: instructionEN(ev.Severity),
	}
	return t
}

// basinTexts is the generated wording for a basin's alert (st nil in
// DefaultTexts): the rule, the basin and the event's message.
func (b *Builder) basinTexts(kind MsgType, ev schemas.AlertEvent) Texts {
	h := hazardOf(ev.Sensor)
	at := ev.At.In(b.c.Location).Format("15:04 02/01/2006")
	if IsAllClear(kind, ev) {
		return Texts{
			VI: Text{Headline: fmt.Sprintf("Kết thúc %s trên lưu vực %s", lower(h.vi), ev.Basin),
				Description: fmt.Sprintf("Điều kiện %s trên lưu vực %s đã hết lúc %s.", ev.Rule, ev.Basin, at),
				Instruction: "Cảnh báo đã kết thúc. Tiếp tục theo dõi thông tin từ chính quyền địa phương."},
			EN: Text{Headline: fmt.Sprintf("All clear: %s in the %s basin", lower(h.en), ev.Basin),
				Description: fmt.Sprintf("The %s condition in the %s basin ended at %s.", ev.Rule, ev.Basin, at),
				Instruction: "The warning has ended. Keep following the local authorities."},
		}
	}
	prefixVI, prefixEN := "", ""
	if kind == MsgUpdate {
		prefixVI, prefixEN = "Cập nhật: ", "Update: "
	}
	return Texts{
		VI: Text{Headline: fmt.Sprintf("%s%s trên lưu vực %s", prefixVI, h.vi, ev.Basin),
			Description: fmt.Sprintf("Điều kiện %s trên lưu vực %s lúc %s: %s", ev.Rule, ev.Basin, at, ev.Message),
			Instruction: instructionVI(ev.Severity)},
		EN: Text{Headline: fmt.Sprintf("%s%s in the %s basin", prefixEN, h.en, ev.Basin),
			Description: fmt.Sprintf("The %s condition in the %s basin at %s: %s", ev.Rule, ev.Basin, at, ev.Message),
			Instruction: instructionEN(ev.Severity)},
	}
}

// lower lowercases the first letter (hazard names start a sentence).
func lower(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToLower(r[0])
	}
	return string(r)
}

func instructionVI(s schemas.Severity) string {
	switch s {
	case schemas.SeverityExtreme:
		return "Sơ tán ngay khỏi khu vực trũng thấp, ven sông và sườn dốc theo hướng dẫn của chính quyền."
	case schemas.SeveritySevere:
		return "Chuẩn bị sơ tán, không đi qua vùng ngập, theo dõi thông báo của chính quyền."
	}
	return "Theo dõi diễn biến và thông báo của chính quyền địa phương."
}

func instructionEN(s schemas.Severity) string {
	switch s {
	case schemas.SeverityExtreme:
		return "Evacuate low-lying, riverside and hillside areas now, as the authorities direct."
	case schemas.SeveritySevere:
		return "Prepare to evacuate, do not cross flooded roads, follow the authorities' notices."
	}
	return "Follow the situation and the local authorities' notices."
}
