# Resilience: the two setup commands are `make run` and `make test`.
SHELL := /bin/bash
SERVICES := deployments/local/services
ENVFILE := .cache/services/env
GO ?= go
PKGS := ./...

.PHONY: screenshots run build test test-unit vet services-up services-down services-status bench fuzz chaos clean

build:
	$(GO) build -o bin/resilience ./cmd/resilience

## run: the embedded stack (MQTT broker, Kafka-protocol log, collector,
## processor, alerts, HTTP API) in one process, anonymous devices allowed.
run: build
	./bin/resilience run --dev --config deployments/config/resilience.yaml

## test: start the real Mosquitto, Kafka, InfluxDB and SMTP sink (and install
## chromium for the browser test), then vet
## and run every test. The end-to-end tests (cmd/resilience) and the short
## fault scenarios (cmd/chaos) stop and start servers, so they run after the
## other packages, one package at a time.
E2E := ./cmd/resilience
CHAOS := ./cmd/chaos
test: services-up vet
	set -a; source $(ENVFILE); set +a; \
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list $(PKGS) | grep -v -e '/cmd/resilience$$' -e '/cmd/chaos$$') && \
	$(GO) test -race -count=1 -timeout 30m $(E2E) && \
	$(GO) test -race -count=1 -timeout 40m $(CHAOS)

## chaos: the fault-injection suite on the real servers: every scenario (F1-F16,
## the long ones with the issue's durations) and the bad-input barrage; prints
## the table. `go run ./cmd/chaos -short` or `-scenarios F2,F7` for a subset.
chaos: services-up
	set -a; source $(ENVFILE); set +a; \
	$(GO) run ./cmd/chaos

## test-unit: the tests that need no server (integration tests skip outside CI).
test-unit: vet
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

## services-up also installs Debian's chromium for the console's browser test.
services-up:
	$(SERVICES) up
	deployments/local/chromium >/dev/null

services-down:
	$(SERVICES) down

services-status:
	$(SERVICES) status

## bench: Go micro-benchmarks, then cmd/bench: issue 10's side-by-side table on the real servers
## (a 200,000-reading backlog drained by a bare paho subscriber, Telegraf 1.37.2 and the collector;
## Kafka -> InfluxDB by Telegraf and the processor; the load test at 1k/5k/10k msg/s; targets
## PASS/FAIL; what shared the cores), then the embedded stack at 10,000 msg/s.
## BENCHFLAGS="-readings 20000 -stations 200 -e2e-duration 10s" for a smaller run.
BENCHFLAGS ?=
bench: services-up
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./schemas/... ./processor/... ./ingest/...
	$(GO) test -run '^$$' -bench QoS1Burst -benchtime 1x ./internal/embedded/
	set -a; source $(ENVFILE); set +a; $(GO) run ./cmd/bench $(BENCHFLAGS)
	$(GO) run ./cmd/loadtest -mode embedded -stations 1000 -rate 10000 -duration 60s

## fuzz: each fuzz target for FUZZTIME (decoders, config and file loaders).
FUZZTIME ?= 30s
FUZZ := -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
fuzz:
	$(GO) test $(FUZZ) -fuzz FuzzDecode ./schemas/
	$(GO) test $(FUZZ) -fuzz FuzzParseRegistry ./schemas/
	$(GO) test $(FUZZ) -fuzz FuzzAppendJSON ./schemas/
	$(GO) test $(FUZZ) -fuzz FuzzAlertEventAppendJSON ./schemas/
	$(GO) test $(FUZZ) -fuzz '^FuzzParse$$' ./schemas/rulespec/
	$(GO) test $(FUZZ) -fuzz FuzzParseConfig ./cmd/resilience/
	$(GO) test $(FUZZ) -fuzz FuzzParseCredentials ./internal/embedded/
	$(GO) test $(FUZZ) -fuzz FuzzReadLineProtocol ./processor/backtest/
	$(GO) test $(FUZZ) -fuzz FuzzReadCSV ./processor/backtest/
	$(GO) test $(FUZZ) -fuzz FuzzParseLine ./processor/lineproto/
	$(GO) test $(FUZZ) -fuzz FuzzUnmarshalState ./processor/rules/
	$(GO) test $(FUZZ) -fuzz FuzzTracesMatchReplay ./processor/rules/
	$(GO) test $(FUZZ) -fuzz '^FuzzParse$$' ./alerts/route/
	$(GO) test $(FUZZ) -fuzz '^FuzzParse$$' ./internal/auth/
	$(GO) test $(FUZZ) -fuzz FuzzVerify ./internal/audit/
	$(GO) test $(FUZZ) -fuzz FuzzOpenFile ./alerts/publish/
	$(GO) test $(FUZZ) -fuzz 'FuzzAlertsQuery$$' ./internal/httpapi/
	$(GO) test $(FUZZ) -fuzz 'FuzzActionBody$$' ./internal/httpapi/
	$(GO) test $(FUZZ) -fuzz 'FuzzSilenceBody$$' ./internal/httpapi/
	$(GO) test $(FUZZ) -fuzz '^FuzzParse$$' ./alerts/cap/

## screenshots: retake docs/screenshots/dashboard-{vi,en}.png with the browser test.
screenshots:
	RESILIENCE_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestBrowserConsoleFullStack$$' ./cmd/resilience/

clean:
	rm -rf bin
