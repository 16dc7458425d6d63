// Package silence mutes notifications on purpose: a Silence names the alerts
// it covers with matchers (a station, a rule, a district, any routing label
// of alerts/route), who set it and why, and when it starts and ends. It is
// pure logic: the dispatcher asks Set.Muted for each notification it is
// about to send, with the time of sending.
package silence
