#!/usr/bin/env bash
# deployments/local/telegraf/build-telegraf.sh: builds Telegraf from its Go
# module with only the plugins `cmd/bench` uses (Telegraf's documented
# custom build: the `custom` tag plus one tag per plugin, docs/CUSTOMIZATION.md):
#
#   hop 1 (MQTT -> Kafka):    inputs.mqtt_consumer, outputs.kafka
#   hop 2 (Kafka -> InfluxDB): inputs.kafka_consumer, outputs.influxdb_v2
#   formats:                  parsers.json_v2 (device messages and the
#                             collector's records), serializers.json
#
# into ${RESILIENCE_CACHE:-~/.cache/resilience}/telegraf-<version>/telegraf,
# outside the work tree (never committed), and reuses a binary already there.
# It prints the binary's path on stdout; progress goes to stderr.
#
#   build-telegraf.sh            build (or reuse) and print the path
#   build-telegraf.sh --force    rebuild even if the binary exists
set -euo pipefail

VERSION=${TELEGRAF_VERSION:-1.37.2}
CACHE=${RESILIENCE_CACHE:-$HOME/.cache/resilience}
DEST="$CACHE/telegraf-$VERSION"
BIN="$DEST/telegraf"
TAGS="custom,inputs.mqtt_consumer,outputs.kafka,inputs.kafka_consumer,outputs.influxdb_v2,parsers.json_v2,serializers.json"
GO=${GO:-go}

log() { printf '[telegraf] %s\n' "$*" >&2; }

if [[ ${1:-} != --force && -x $BIN && -s $DEST/build-tags && $(<"$DEST/build-tags") == "$TAGS" ]]; then
	log "reusing $BIN"
	printf '%s\n' "$BIN"
	exit 0
fi

command -v "$GO" >/dev/null || { log "ERROR: no go command ($GO)"; exit 1; }
mkdir -p "$DEST"
log "building telegraf v$VERSION with -tags $TAGS into $DEST (first time: a few minutes)"
# Telegraf's go.mod has no replace directives, so `go install module@version`
# builds it as released (its own go.sum pins every dependency).
tmp=$(mktemp -d "$DEST/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# As Telegraf's Makefile: CGO off, the version stamped into internal.Version.
CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-buildvcs=false "$GO" install -tags "$TAGS" -trimpath \
	-ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=$VERSION" \
	"github.com/influxdata/telegraf/cmd/telegraf@v$VERSION" >&2
mv "$tmp/telegraf" "$BIN"
printf '%s\n' "$TAGS" >"$DEST/build-tags"
"$BIN" --version >&2 || { log "ERROR: $BIN does not run"; exit 1; }
log "built $BIN"
printf '%s\n' "$BIN"
