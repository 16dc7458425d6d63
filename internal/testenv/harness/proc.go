package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one running `resilience` process.
type Proc struct {
	Name string // e.g. "ingest-1"
	Mode string // ingest, process, alerts, run
	HTTP string // its HTTP listen address
	Log  string // path of its combined stdout/stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu   sync.Mutex
	peak int64 // highest VmHWM seen, bytes
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its wait error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Signal sends sig (SIGSTOP and SIGCONT included).
func (p *Proc) Signal(sig syscall.Signal) error {
	p.SampleRSS()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("harness: %s (pid %d): %s: %w", p.Name, p.Pid(), sig, err)
	}
	return nil
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills.
// It returns the exit error, or an error saying it had to kill.
func (p *Proc) Stop(grace time.Duration) error {
	if ok, err := p.Exited(); ok {
		return err
	}
	p.SampleRSS()
	p.cmd.Process.Signal(syscall.SIGCONT) // a frozen process cannot handle SIGTERM
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("harness: %s did not stop within %s of SIGTERM: killed", p.Name, grace)
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	if ok, _ := p.Exited(); ok {
		return
	}
	p.SampleRSS()
	p.cmd.Process.Kill()
	<-p.done
}

// WaitReady polls /readyz until it answers 200, the process exits, ctx
// ends or timeout passes.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + p.HTTP + "/readyz"
	cl := &http.Client{Timeout: 5 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		if ok, err := p.Exited(); ok {
			return fmt.Errorf("harness: %s exited before ready: %v\n%s", p.Name, err, p.LogTail(3000))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := cl.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		p.SampleRSS()
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("harness: %s not ready after %s (last /readyz: %s)\n%s", p.Name, timeout, last, p.LogTail(3000))
}

// LogTail is the last n bytes of the process log.
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.Log)
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}

// LogLines returns the log lines containing s.
func (p *Proc) LogLines(s string) []string {
	f, err := os.Open(p.Log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// SampleRSS reads the process's peak resident set (VmHWM in
// /proc/PID/status) and keeps the highest value seen. The kernel keeps the
// high-water mark itself, so occasional samples (before every signal and
// at the end) lose nothing but the last moments before an exit.
func (p *Proc) SampleRSS() {
	if ok, _ := p.Exited(); ok {
		return
	}
	v, err := vmHWM(p.Pid())
	if err != nil {
		return
	}
	p.mu.Lock()
	if v > p.peak {
		p.peak = v
	}
	p.mu.Unlock()
}

// PeakRSS is the highest resident set seen, in bytes.
func (p *Proc) PeakRSS() int64 {
	p.SampleRSS()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// parseVmHWM returns the VmHWM line of /proc/PID/status in bytes.
func parseVmHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("harness: VmHWM line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("harness: VmHWM line %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("harness: no VmHWM in status")
}
