// Package mqttsiren is the notification channel to field sirens and
// roadside displays: an MQTT downlink command on stations/{id}/cmd/siren at
// QoS 1, acknowledged by the device on stations/{id}/cmd/ack.
//
// A command carries a command id derived from the notification id and the
// station (CommandID), so a resend is recognisable by the device. Send
// publishes to each station of the notification (the configured stations,
// or the alert's own), waits up to AckTimeout for each device's
// acknowledgement, republishes up to Retries times, and then returns an
// error wrapping notify.ErrUnconfirmed: the dispatcher keeps retrying and
// escalates the group to its next tier at once. Every acknowledgement is
// recorded (Acks) so that the alert can show which devices confirmed.
//
// Command payload (JSON): {"v":1,"id","alert_id","station","level",
// "severity","pattern","text","at"}; pattern is "bd3" (two 20 s blasts,
// repeated twice, the Huế signal for a river above BĐ II heading for BĐ III)
// for level 2 and above, "alert" otherwise, "off" for a resolved alert.
// Ack payload: {"id": command id, "status": "ok"|"error", "detail"}.
package mqttsiren
