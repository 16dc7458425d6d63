package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles ./cmd/resilience of the module that contains the current
// directory into dir/resilience and returns its path. Call it once per run
// (so that fixes landing in the tree are picked up on the next run).
func Build(ctx context.Context, dir string) (string, error) { return BuildWith(ctx, "go", dir) }

// BuildWith is Build with the go command goCmd.
func BuildWith(ctx context.Context, goCmd, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("harness: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("harness: not inside the resilience module")
	}
	bin := filepath.Join(dir, "resilience")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/resilience")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: go build ./cmd/resilience: %w\n%s", err, out)
	}
	return bin, nil
}
