package crashpoint_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/resilience-project/resilience/alerts/crashpoint"
)

// TestHit runs this test binary again as a child that calls Hit: with the
// variable naming another point (or unset) the child goes on and exits 0;
// naming the point, it dies of SIGKILL at once.
func TestHit(t *testing.T) {
	if p := os.Getenv("CRASHPOINT_CHILD"); p != "" {
		crashpoint.Hit(p)
		os.Exit(0)
	}
	cases := []struct {
		name, env string
		killed    bool
	}{
		{"unset", "", false},
		{"other point", crashpoint.AfterConsume, false},
		{"this point", crashpoint.AfterNotify, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHit$")
			cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD="+crashpoint.AfterNotify)
			if c.env != "" {
				cmd.Env = append(cmd.Env, crashpoint.Env+"="+c.env)
			}
			err := cmd.Run()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			killed := ws.Signaled() && ws.Signal() == syscall.SIGKILL
			if killed != c.killed || (!c.killed && err != nil) {
				t.Errorf("child: err %v, killed by SIGKILL %v; want killed %v", err, killed, c.killed)
			}
		})
	}
}
