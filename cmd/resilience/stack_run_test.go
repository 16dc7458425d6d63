package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestRunStackEmbeddedStartsAndStopsClean: `run` in embedded mode (the
// embedded MQTT broker and Kafka-protocol log, file points, no server)
// starts, becomes ready on /readyz (collector subscribed, processor owning
// partitions, alerts replay done), stops in order when its context ends,
// returns nil, and leaves no goroutine behind.
func TestRunStackEmbeddedStartsAndStopsClean(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.StationsFile = filepath.Join("..", "..", "deployments", "config", "stations.yaml")
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Partitions = 2
	cfg.Kafka.Embedded.Listen = "127.0.0.1:0"
	cfg.MQTT.Embedded.Listen = freeAddr(t)
	cfg.HTTP.Listen = freeAddr(t)
	cfg.Ingest.ClientID = "stack-run-test"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var st Stack
	done := make(chan error, 1)
	go func() { done <- RunStack(ctx, ModeRun, cfg, slog.New(slog.DiscardHandler), &st) }()

	cl := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	deadline := time.After(2 * time.Minute)
	var last string
	for ready := false; !ready; {
		select {
		case err := <-done:
			t.Fatalf("RunStack returned before it was ready: %v", err)
		case <-deadline:
			t.Fatalf("not ready within the deadline; last /readyz: %s", last)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := cl.Get("http://" + cfg.HTTP.Listen + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = resp.Status + " " + string(b)
		ready = resp.StatusCode == http.StatusOK
	}
	cl.CloseIdleConnections()
	if st.View == nil || st.Alerts == nil || len(st.Brokers) == 0 || st.MQTTURL == "" {
		t.Errorf("Stack not filled in: %+v", st)
	}
	cancel()
	awaitRunStack(t, done)
}

// awaitRunStack waits for RunStack's result on done once its context has
// ended: an error fails the test, and so does no return within 2 min.
func awaitRunStack(tb testing.TB, done <-chan error) {
	tb.Helper()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("RunStack after a stop = %v, want nil", err)
		}
	case <-time.After(2 * time.Minute):
		tb.Errorf("RunStack did not return within 2 min after its context ended")
	}
}
