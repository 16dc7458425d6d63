package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/resilience-project/resilience/internal/audit"
)

const auditUsage = `usage: resilience audit verify [--head HEADFILE] FILE

Checks the hash chain of the audit log FILE and, when there is one, its
head file (default FILE.head; a head copied elsewhere is the only defence
against a rewritten chain). Exit 0: intact; 1: broken (the first broken
line, seq and reason on stderr) or unreadable; 2: usage.
`

// auditCmd runs `resilience audit ARGS`.
func auditCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] != "verify" {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	headPath := fs.String("head", "", "head file to check against (default FILE.head when it exists)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	file := fs.Arg(0)
	explicit := *headPath != ""
	if !explicit {
		*headPath = audit.HeadPath(file)
	}
	want, haveHead, err := audit.ReadHead(*headPath)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 1
	case !haveHead && explicit:
		fmt.Fprintf(stderr, "audit %s: head file %s not found\n", file, *headPath)
		return 1
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return 1
	}
	defer f.Close()
	var got audit.Head
	if haveHead {
		got, err = audit.VerifyHead(f, want)
	} else {
		got, err = audit.Verify(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "audit %s: %v\n", file, err)
		if errors.Is(err, audit.ErrBroken) {
			fmt.Fprintf(stderr, "audit %s: entries 1..%d are intact\n", file, got.Seq)
		}
		return 1
	}
	if !haveHead {
		fmt.Fprintf(stderr, "audit %s: warning: no head file %s, a truncated tail cannot be detected\n", file, *headPath)
	}
	fmt.Fprintf(stdout, "audit %s: ok, %d entries, head seq %d hash %s\n", file, got.Seq, got.Seq, got.Hash)
	return 0
}
