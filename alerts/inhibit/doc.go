// Package inhibit mutes notifications that another active alert makes
// redundant. It is pure logic over alert events (the latest event of each
// firing alert is a possible source):
//
//   - station-offline: an offline alert of a station mutes that station's
//     hazard notifications (its readings are stale; the operator is told
//     the station is down instead);
//   - higher-level: an alert at a higher level mutes its own lower-level
//     notices (fired/escalated), and so does a firing alert of the same
//     station and rule at a higher level;
//   - basin: a basin alert (station BASIN-…, see alerts/basin) mutes the
//     alerts of its member stations (same basin).
//
// Resolved and de-escalated notices are never inhibited: whoever was told
// the alert fired must be told it is over. Defaults returns the three rules;
// a deployment may leave out the basin rule to keep per-station detail.
package inhibit
