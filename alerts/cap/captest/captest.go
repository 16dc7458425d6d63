package captest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/testenv"
)

// SchemaPath is the OASIS CAP 1.2 XSD in the source tree.
func SchemaPath(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("captest: no source path")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "CAP-v1.2.xsd")
}

// Validate writes doc to a temporary file and validates it against the
// OASIS schema with xmllint; name names the file in failures.
func Validate(t testing.TB, name string, doc []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		msg := "xmllint not installed (Debian: apt-get install -y libxml2-utils)"
		if testenv.InCI(os.Getenv) {
			t.Fatal(msg + " (CI=true: this test must not be skipped)")
		}
		t.Skip(msg)
	}
	path := filepath.Join(t.TempDir(), strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(name)+".xml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", SchemaPath(t), path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint %s: %v\n%s\n%s", name, err, out, doc)
	}
	if !strings.Contains(string(out), "validates") {
		t.Fatalf("xmllint %s: no 'validates' in output:\n%s", name, out)
	}
}
