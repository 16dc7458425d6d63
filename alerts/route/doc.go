// Package route is the notification routing of the alerts service, laid out
// like Prometheus Alertmanager's: a YAML file of receivers (teams with their
// channels: webhook, email, siren) and a tree of routes that match an alert's
// labels (district, basin, station, sensor, rule, severity) to receivers.
//
// Each route also says how notifications are grouped (group_by, group_wait,
// group_interval: one notification per incident, not one per reading), how
// often an unacknowledged group is repeated (repeat_interval) and how it
// escalates (tiers of receivers, each after a timeout since the group's
// first notification). A child route inherits every setting it leaves
// unset from its parent.
//
// Parse applies the defaults (Defaults) and then validates, reporting every
// problem with its key path, e.g.
//
//	route.routes[2].matchers.severity: "Sever" is not one of Minor, Moderate, Severe, Extreme
//
// A parsed *Tree is immutable and safe for concurrent use; Watcher
// hot-reloads a file the way the rules file is reloaded (a bad file keeps the
// tree in force).
//
// Matching is Alertmanager's: depth first, a route matches when all its
// matchers do; the deepest matching routes win; after a matching sibling the
// search stops unless that sibling sets continue.
package route
