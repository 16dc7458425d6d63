package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// KafkaAlertActions is the compacted topic of operator actions on alerts
// (acknowledge, resolve, ...), keyed by action id. The alerts service folds
// it with the `alerts` topic, so every replica and every restart sees the
// same lifecycle.
const KafkaAlertActions = "alerts.actions"

// AlertActionVersion is the version of AlertAction on the actions topic.
const AlertActionVersion = 1

// ActionKind is what an operator did to an alert.
type ActionKind string

// Action kinds.
const (
	ActionAck     ActionKind = "ack"
	ActionUnack   ActionKind = "unack"
	ActionResolve ActionKind = "resolve"
	ActionComment ActionKind = "comment"
	ActionAssign  ActionKind = "assign"
)

// Bounds of an action's free text.
const (
	MaxActionBy   = 128
	MaxActionNote = 2000
)

// ErrBadAction is wrapped by AlertAction.Validate.
var ErrBadAction = errors.New("bad alert action")

// AlertAction is one operator action on an alert, as produced to the
// actions topic. ActionID is deterministic (see ActionID): a retried POST
// or a re-produced record is the same action, applied once.
type AlertAction struct {
	V        int        `json:"v"`
	ActionID string     `json:"action_id"`
	AlertID  string     `json:"alert_id"`
	Kind     ActionKind `json:"kind"`
	By       string     `json:"by"`
	// Note is the ack note, the resolve reason, the comment or the assignee.
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// ActionID is the deterministic id of an action: the same operator doing
// the same thing to the same alert at the same instant is one action.
func ActionID(alertID string, kind ActionKind, by, note string, at time.Time) string {
	h := sha256.Sum256([]byte(alertID + "\x00" + string(kind) + "\x00" + by + "\x00" + note + "\x00" +
		strconv.FormatInt(at.UnixNano(), 10)))
	return alertID + ":" + string(kind) + ":" + hex.EncodeToString(h[:8])
}

// NewAlertAction builds a valid action with its id.
func NewAlertAction(alertID string, kind ActionKind, by, note string, at time.Time) (AlertAction, error) {
	a := AlertAction{V: AlertActionVersion, AlertID: alertID, Kind: kind, By: by, Note: note, At: at.UTC()}
	a.ActionID = ActionID(alertID, kind, by, note, a.At)
	return a, a.Validate()
}

// Validate checks an action's fields (errors wrap ErrBadAction and name
// the field).
func (a AlertAction) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadAction}, args...)...))
	}
	if a.V != AlertActionVersion {
		bad("v: %d, want %d", a.V, AlertActionVersion)
	}
	if a.ActionID == "" || a.AlertID == "" || len(a.AlertID) > 200 {
		bad("action_id and alert_id are required (alert_id up to 200 bytes)")
	}
	switch a.Kind {
	case ActionAck, ActionUnack, ActionResolve, ActionComment, ActionAssign:
	default:
		bad("kind: %q is not one of ack, unack, resolve, comment, assign", a.Kind)
	}
	if a.By == "" || len(a.By) > MaxActionBy || !utf8.ValidString(a.By) {
		bad("by: required, valid UTF-8, at most %d bytes", MaxActionBy)
	}
	if len(a.Note) > MaxActionNote || !utf8.ValidString(a.Note) {
		bad("note: valid UTF-8, at most %d bytes", MaxActionNote)
	}
	if (a.Kind == ActionComment || a.Kind == ActionAssign) && a.Note == "" {
		bad("note: required for %s", a.Kind)
	}
	if a.At.IsZero() {
		bad("at: required")
	}
	return errors.Join(errs...)
}
