package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/crypto/bcrypt"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/embedded"
	"github.com/resilience-project/resilience/internal/memlimit"
	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

const usage = `usage: resilience <command> [flags]

commands:
  run            every part in one process; embedded MQTT broker and Kafka log
                 when no broker is configured (--dev: anonymous devices)
  ingest         the MQTT collector
  process        the stream processor
  alerts         the alerts service
  check-config   validate the configuration
  rules check F  validate a rules file
  rules backtest run the rules over stored history (CSV, line protocol or
                 InfluxDB) and print what would have fired, with lead times
  hash-password  bcrypt a password read from stdin, for the credentials file
  hash-token     make a random operator API token and its hash for the tokens file
  audit verify F check the audit log's hash chain (and F.head)
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func realMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run", "ingest", "process", "alerts":
		return serve(Mode(cmd), rest, stderr)
	case "check-config":
		cfg, _, err := loadConfig("check-config", rest, stderr)
		if err == nil {
			err = checkConfig(&cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "config ok")
		return 0
	case "rules":
		return rulesCmd(rest, stdout, stderr)
	case "hash-password":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(stderr, err)
			return 1
		}
		pw := strings.TrimRight(line, "\r\n")
		if len(pw) < 12 {
			fmt.Fprintln(stderr, "password: at least 12 characters")
			return 1
		}
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, string(h))
		return 0
	case "hash-token":
		tok, h, err := auth.NewToken()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "token: %s\ntoken_hash: %s\n", tok, h)
		return 0
	case "audit":
		return auditCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", cmd, usage)
	return 2
}

// loadConfig parses -config first, loads it, applies the environment, then
// lets the remaining flags override.
func loadConfig(name string, args []string, stderr io.Writer) (Config, *flag.FlagSet, error) {
	pre := flag.NewFlagSet(name, flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	path := pre.String("config", "", "")
	// Only -config matters here; other flags are parsed below.
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-config" || a == "--config" {
			if i+1 < len(args) {
				*path = args[i+1]
			}
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			*path = v
		} else if v, ok := strings.CutPrefix(a, "-config="); ok {
			*path = v
		}
	}
	cfg, err := LoadConfig(*path)
	if err != nil {
		return cfg, nil, err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", *path, "configuration file (YAML)")
	dev := fs.Bool("dev", false, "run: accept anonymous MQTT devices (development only)")
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	cfg.Dev = *dev
	return cfg, fs, nil
}

func checkConfig(cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := schemas.LoadRegistry(cfg.StationsFile); err != nil {
		return err
	}
	if cfg.EmbeddedMQTT() && !cfg.Dev {
		if _, err := embedded.LoadCredentials(cfg.MQTT.Embedded.CredentialsFile); err != nil {
			return fmt.Errorf("%w (devices must authenticate unless --dev; create the file from credentials.example.yaml with `resilience hash-password`)", err)
		}
	}
	if cfg.RulesFile != "" {
		if _, err := rulespec.Load(cfg.RulesFile); err != nil {
			return err
		}
	}
	return nil
}

func serve(mode Mode, args []string, stderr io.Writer) int {
	cfg, _, err := loadConfig(string(mode), args, stderr)
	if err == nil {
		err = checkConfig(&cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	limit, src, err := memlimit.Resolve(cfg.MemoryLimit, memlimit.Env{Getenv: os.Getenv, CgroupLimit: memlimit.CgroupLimit})
	if err != nil { // Validate accepted it
		fmt.Fprintln(stderr, err)
		return 1
	}
	memlimit.Apply(limit)
	logger.Info("memory limit", "bytes", limit, "from", src)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := RunStack(ctx, mode, cfg, logger, nil); err != nil {
		logger.Error("stopped with error", "err", err)
		return 1
	}
	return 0
}

func rulesCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: resilience rules check FILE | resilience rules backtest ...")
		return 2
	}
	switch args[0] {
	case "check":
		// rules check FILE [STATIONS]: validates FILE; with a station
		// registry it lists per declared sensor kind the rules watching it
		// and warns for each (station, sensor) no rule watches. Warnings do
		// not fail the check (exit 0): a city may install a sensor before
		// its rule; an invalid file or registry exits 1.
		if len(args) != 2 && len(args) != 3 {
			fmt.Fprintln(stderr, "usage: resilience rules check FILE [STATIONS]")
			return 2
		}
		set, err := rulespec.Load(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok (%d rules)\n", args[1], len(set.Names()))
		if len(args) == 3 {
			reg, err := schemas.LoadRegistry(args[2])
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			cov := rulespec.CoverageOf(set, reg)
			for _, k := range cov.Sensors() {
				names := strings.Join(cov.BySensor[k], ", ")
				if names == "" {
					names = "(none)"
				}
				fmt.Fprintf(stdout, "sensor %s: %s\n", k, names)
			}
			for _, u := range cov.Unwatched {
				fmt.Fprintf(stdout, "warning: station %s declares %s but no rule watches it there\n", u.Station, u.Sensor)
			}
		}
		return 0
	case "backtest":
		return backtestCmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "unknown rules command %q\n", args[0])
	return 2
}
