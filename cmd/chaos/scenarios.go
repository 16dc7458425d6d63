package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// allScenarios are the F1-F16 and the bad-input barrage.
func allScenarios() []scenario {
	return []scenario{
		{ID: "F1", Title: "baseline", Fault: faultNone},
		{ID: "F2", Title: "kill -9 Mosquitto", Setup: setupDirectSubscription, Fault: faultKillMosquitto},
		{ID: "F3", Title: "kill -9 one of two collectors", Collectors: 2, Fault: faultKillCollector},
		{ID: "F4", Title: "rolling SIGTERM of every component", Fault: faultRolling},
		{ID: "F5", Title: "kill -9 Kafka 3 times", Fault: faultKillServer(harness.Kafka, 3)},
		{ID: "F6", Title: "Kafka down 5 min", Long: true, Fault: faultServerDown(harness.Kafka, 5*time.Minute)},
		{ID: "F7", Title: "kill -9 processor between InfluxDB write and commit", Setup: setupInfluxProxy, Fault: faultKillAfterWrite},
		{ID: "F8", Title: "consumer-group rebalance churn", Fault: faultChurn},
		{ID: "F9", Title: "InfluxDB down 10 min", Long: true, Fault: faultServerDown(harness.InfluxDB, 10*time.Minute)},
		{ID: "F10", Title: "InfluxDB slow (2 s/write) then 503", Setup: setupInfluxProxy, Fault: faultInfluxSlow},
		{ID: "F11", Title: "collector-broker path black-holed 60 s", Setup: setupMQTTProxy, Fault: faultBlackhole},
		{ID: "F12", Title: "SIGSTOP Kafka 30 s", Fault: faultFreezeKafka},
		{ID: "F13", Title: "InfluxDB spool full (64 KiB bound, InfluxDB refusing)", Rate: 3, Setup: setupSpoolFull, Fault: faultSpoolFull},
		{ID: "F14", Title: "10x storm 60 s, one collector offline", Long: true, Collectors: 2, Fault: faultStorm},
		{ID: "F15", Title: "device clock faults", Fault: faultClocks},
		{ID: "F16", Title: "alerts service kill -9 while alerts fire", Fault: faultKillAlerts},
		{ID: "BARRAGE", Title: "bad-input barrage", Fault: faultBarrage},
	}
}

func faultNone(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	return sleep(ctx, 10*time.Second)
}

// faultKillServer kills a server with SIGKILL n times, restarting it each
// time after a few seconds of outage.
func faultKillServer(svc string, n int) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		r.faultStart()
		defer r.faultEnd()
		for i := 0; i < n; i++ {
			if i > 0 {
				if err := sleep(ctx, 10*time.Second); err != nil {
					return err
				}
			}
			if err := r.Servers.Kill9(ctx, svc); err != nil {
				return err
			}
			if err := sleep(ctx, 5*time.Second); err != nil {
				return err
			}
			if err := r.Servers.Up(ctx, svc); err != nil {
				return err
			}
		}
		return nil
	}
}

// setupDirectSubscription subscribes the collector without $share:
// Mosquitto 2.0 restores a persistent session's direct subscriptions after
// a crash, not its $share ones (see harness.Config.DirectSubscription).
func setupDirectSubscription(_ context.Context, r *run) error {
	r.Cfg.DirectSubscription = true
	r.note("collector subscribes without $share (Mosquitto 2.0 does not restore $share subscriptions)")
	return nil
}

// mosquittoAutosave is the test Mosquitto's autosave_interval
// (deployments/local/mosquitto/mosquitto.conf): it saves its database, the
// collectors' sessions and subscriptions among it, this often.
const mosquittoAutosave = 30 * time.Second

// faultKillMosquitto kills Mosquitto once the collector's session has been
// up for longer than the broker's autosave interval, as every session of a
// running deployment has: the broker has saved it, so the kill tests the
// crash of a broker with live traffic, not of one whose collector connected
// seconds ago (that session is lost by design until the next save).
func faultKillMosquitto(ctx context.Context, r *run) error {
	if err := sleep(ctx, mosquittoAutosave+5*time.Second); err != nil {
		return err
	}
	return faultKillServer(harness.Mosquitto, 1)(ctx, r)
}

// faultServerDown stops a server gracefully for d.
func faultServerDown(svc string, d time.Duration) func(context.Context, *run) error {
	return func(ctx context.Context, r *run) error {
		r.faultStart()
		defer r.faultEnd()
		if err := r.Servers.Down(ctx, svc); err != nil {
			return err
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		return r.Servers.Up(ctx, svc)
	}
}

func faultKillCollector(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	r.kill9("ingest-2")
	if err := sleep(ctx, 10*time.Second); err != nil {
		return err
	}
	// The same client id resumes the persistent session: the broker
	// redelivers what the dead collector never acknowledged.
	_, err := r.start(ctx, "ingest-2", "ingest")
	return err
}

func faultRolling(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	for _, pm := range [][2]string{{"ingest-1", "ingest"}, {"process-1", "process"}, {"alerts-1", "alerts"}} {
		r.term(pm[0])
		if _, err := r.start(ctx, pm[0], pm[1]); err != nil {
			return err
		}
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func setupInfluxProxy(_ context.Context, r *run) error {
	p, err := harness.NewHTTPProxy(r.Servers.InfluxURL)
	if err != nil {
		return err
	}
	r.influxProxy = p
	r.Cfg.InfluxURL = p.URL()
	r.cleanup(func() { p.Close() })
	return nil
}

func faultKillAfterWrite(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	for i := 0; i < 2; i++ {
		killed := make(chan struct{})
		p := r.Proc("process-1")
		r.killed[p] = true
		r.influxProxy.OnNextWrite(func() {
			p.Kill()
			close(killed)
		})
		select {
		case <-killed:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("no InfluxDB write within 60s to kill the processor after")
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, err := r.start(ctx, "process-1", "process"); err != nil {
			return err
		}
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// faultChurn: processors join and leave every 10 s beside the first one.
func faultChurn(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("process-%d", 2+i%2)
		if _, err := r.start(ctx, name, "process"); err != nil {
			return err
		}
		if err := sleep(ctx, 10*time.Second); err != nil {
			return err
		}
		r.term(name)
	}
	return nil
}

func faultInfluxSlow(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	r.influxProxy.SetDelay(2 * time.Second)
	if err := sleep(ctx, 15*time.Second); err != nil {
		return err
	}
	r.influxProxy.SetDelay(0)
	r.influxProxy.Refuse(true)
	defer r.influxProxy.Refuse(false)
	return sleep(ctx, 15*time.Second)
}

func setupMQTTProxy(_ context.Context, r *run) error {
	addr := strings.TrimPrefix(r.Servers.MQTTURL, "tcp://")
	p, err := harness.NewTCPProxy(addr)
	if err != nil {
		return err
	}
	r.mqttProxy = p
	r.Cfg.MQTTURL = "tcp://" + p.Addr()
	r.cleanup(func() { p.Close() })
	return nil
}

func faultBlackhole(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	r.mqttProxy.Blackhole(true)
	defer r.mqttProxy.Blackhole(false)
	return sleep(ctx, 60*time.Second)
}

func faultFreezeKafka(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	if err := r.signalServer(harness.Kafka, syscall.SIGSTOP); err != nil {
		return err
	}
	defer r.Servers.Signal(harness.Kafka, syscall.SIGCONT)
	return sleep(ctx, 30*time.Second)
}

// setupSpoolFull bounds process-1's InfluxDB spool to the smallest
// influx.spool_max_bytes (64 KiB) and puts a proxy in front of InfluxDB
// that the fault makes refuse.
func setupSpoolFull(ctx context.Context, r *run) error {
	if err := setupInfluxProxy(ctx, r); err != nil {
		return err
	}
	if r.Cfg.Extra == nil {
		r.Cfg.Extra = map[string]string{}
	}
	r.Cfg.Extra["influx"] = fmt.Sprintf("spool_max_bytes: %d", spoolBound)
	r.note("influx.spool_max_bytes %d, InfluxDB refused %s", spoolBound, spoolFullFault)
	return nil
}

// spoolBound is F13's influx.spool_max_bytes (the smallest allowed).
const spoolBound = 64 << 10

// spoolFullFault is how long F13 keeps InfluxDB refusing.
const spoolFullFault = 60 * time.Second

// faultSpoolFull makes InfluxDB refuse until process-1's spool is full,
// then checks that the processor says so on /readyz (200, "degraded:
// point spool full") and that alert events keep flowing while it is full.
func faultSpoolFull(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	r.influxProxy.Refuse(true)
	defer r.influxProxy.Refuse(false)
	end := time.Now().Add(spoolFullFault)
	p := r.Proc("process-1")
	var fullAt time.Time
	var alertsAtFull int
	for time.Now().Before(end) {
		code, body, err := readyz(ctx, p.HTTP)
		if err == nil && code == http.StatusOK && strings.Contains(body, "degraded: point spool full") && fullAt.IsZero() {
			fullAt, alertsAtFull = time.Now(), len(r.Watch.Seen())
			r.note("spool full after %s; /readyz 200 degraded", fullAt.Sub(r.FaultFrom).Round(time.Second))
		}
		if err == nil && code != http.StatusOK {
			return fmt.Errorf("process-1 /readyz %d during the spool-full fault (want 200 degraded): %s", code, body)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	if fullAt.IsZero() {
		return fmt.Errorf("process-1's spool (%d bytes) never reported full on /readyz in %s", spoolBound, spoolFullFault)
	}
	if n := len(r.Watch.Seen()); n <= alertsAtFull {
		return fmt.Errorf("no alert event while the spool was full (%d events at full, %d at the end of the fault)", alertsAtFull, n)
	}
	return nil
}

// readyz is the status and body of addr's /readyz.
func readyz(ctx context.Context, addr string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("readyz %s: %w", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

func faultStorm(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	r.kill9("ingest-2")
	r.Load.SetRate(10 * max(1, r.sc.Rate))
	if err := sleep(ctx, 60*time.Second); err != nil {
		return err
	}
	r.Load.SetRate(max(1, r.sc.Rate))
	_, err := r.start(ctx, "ingest-2", "ingest")
	return err
}

// faultClocks injects device clock faults on the first stations.
func faultClocks(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	for i := range 4 {
		r.Load.Inject(i, clockSpecial("ts +1h", time.Hour, harness.Fate{Kind: harness.DeadLettered, Reasons: []schemas.Reason{schemas.ReasonFutureTS}}))
		r.Load.Inject(i, clockSpecial("ts -1 day", -24*time.Hour, harness.Fate{Kind: harness.Stored}))
		r.Load.Inject(i, clock1970())
		a, b := sameTSPair()
		r.Load.Inject(i, a)
		r.Load.Inject(i, b)
	}
	return sleep(ctx, 15*time.Second)
}

func clockSpecial(label string, skew time.Duration, fate harness.Fate) harness.Special {
	return harness.Special{Label: label, Build: func(st string, seq uint64, now time.Time) (string, []byte, time.Time, harness.Fate) {
		ts := now.Add(skew)
		return "", harness.PayloadV1(st, seq, ts, harness.NormalLevel), ts, fate
	}}
}

func clock1970() harness.Special {
	return harness.Special{Label: "ts 1970", Build: func(st string, seq uint64, now time.Time) (string, []byte, time.Time, harness.Fate) {
		ts := time.Unix(int64(seq), 0)
		return "", harness.PayloadV1(st, seq, ts, harness.NormalLevel), ts,
			harness.Fate{Kind: harness.DeadLettered, Reasons: []schemas.Reason{schemas.ReasonBadTimestamp}}
	}}
}

// sameTSPair is two readings with one timestamp and two seqs: the second
// overwrites the first's InfluxDB point (same measurement, tags, time).
func sameTSPair() (harness.Special, harness.Special) {
	var ts time.Time
	a := harness.Special{Label: "same ts, first seq", Build: func(st string, seq uint64, now time.Time) (string, []byte, time.Time, harness.Fate) {
		ts = now
		return "", harness.PayloadV1(st, seq, ts, harness.NormalLevel), ts, harness.Fate{Kind: harness.Overwritten}
	}}
	b := harness.Special{Label: "same ts, second seq", Build: func(st string, seq uint64, _ time.Time) (string, []byte, time.Time, harness.Fate) {
		return "", harness.PayloadV1(st, seq, ts, harness.NormalLevel+0.01), ts, harness.Fate{Kind: harness.Stored}
	}}
	return a, b
}

func faultKillAlerts(ctx context.Context, r *run) error {
	r.faultStart()
	defer r.faultEnd()
	for i := 0; i < 2; i++ {
		r.kill9("alerts-1")
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
		if _, err := r.start(ctx, "alerts-1", "alerts"); err != nil {
			return err
		}
		if err := sleep(ctx, 5*time.Second); err != nil {
			return err
		}
	}
	return nil
}
