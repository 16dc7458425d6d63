# Resilience: the two setup commands are `make run` and `make test`.
SHELL := /bin/bash
SERVICES := deployments/local/services
ENVFILE := .cache/services/env
GO ?= go
PKGS := ./...

.PHONY: run build test test-unit vet services-up services-down services-status bench fuzz clean

build:
	$(GO) build -o bin/resilience ./cmd/resilience

## run: the embedded stack (MQTT broker, Kafka-protocol log, collector,
## processor, alerts, HTTP API) in one process, anonymous devices allowed.
run: build
	./bin/resilience run --dev --config deployments/config/resilience.yaml

## test: start the real Mosquitto, Kafka and InfluxDB, then vet and run every
## test. The end-to-end tests (cmd/resilience) stop and start servers, so they
## run after the other packages, not beside them.
E2E := ./cmd/resilience
test: services-up vet
	set -a; source $(ENVFILE); set +a; \
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list $(PKGS) | grep -v '/cmd/resilience$$') && \
	$(GO) test -race -count=1 -timeout 30m $(E2E)

## test-unit: the tests that need no server (integration tests skip outside CI).
test-unit: vet
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

services-up:
	$(SERVICES) up

services-down:
	$(SERVICES) down

services-status:
	$(SERVICES) status

## bench: Go micro-benchmarks (decoding, rule evaluation, line protocol), then
## the end-to-end load test through the real servers, then the embedded stack.
bench: services-up
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./schemas/... ./processor/... ./ingest/...
	set -a; source $(ENVFILE); set +a; \
	$(GO) run ./cmd/loadtest -mode servers -stations 200 -rate 1000 -duration 20s
	$(GO) run ./cmd/loadtest -mode embedded -stations 200 -rate 1000 -duration 20s

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s -fuzzminimizetime 5s ./schemas/
	$(GO) test -run '^$$' -fuzz FuzzParseRegistry -fuzztime 30s -fuzzminimizetime 5s ./schemas/

clean:
	rm -rf bin
