// Package crashpoint is a TEST KNOB for the crash tests of the alerts
// service (cmd/resilience/e2e_alerts_crash_test.go): with the environment
// variable RESILIENCE_CRASHPOINT set to the name of a point, the process
// kills itself with SIGKILL the first time it reaches that point, exactly
// there, so a test can prove what a crash at that point loses or repeats.
//
// Points:
//
//   - alerts.after_consume: the alerts service folded an alert event into
//     its store and has not yet handed it to the dispatcher (nothing was
//     decided or recorded in the notification log).
//   - alerts.after_notify: a channel confirmed a notification and the
//     dispatcher has not yet recorded it as sent in the notification log.
//
// Unset (the only state outside those tests) it does nothing but read the
// variable. It is deliberately not a config key: no YAML file, flag or API
// can turn it on.
package crashpoint
