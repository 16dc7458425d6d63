package crashpoint

import (
	"os"
	"syscall"
)

// Env is the environment variable naming the crash point.
const Env = "RESILIENCE_CRASHPOINT"

// The crash points (see the package documentation).
const (
	AfterConsume = "alerts.after_consume"
	AfterNotify  = "alerts.after_notify"
)

// Hit kills the process with SIGKILL if RESILIENCE_CRASHPOINT names point,
// and does nothing otherwise.
func Hit(point string) {
	if os.Getenv(Env) == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not delivered synchronously: go no further
	}
}
