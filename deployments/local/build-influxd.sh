#!/usr/bin/env bash
# build-influxd.sh — build InfluxDB 2 (influxd) from source, with Flux.
#
# Installs $RESILIENCE_CACHE/bin/influxd (RESILIENCE_CACHE defaults to
# $HOME/.cache/resilience, outside the repo so fresh clones on the same machine
# reuse it). Idempotent: if that binary already runs and reports the wanted
# version, the script exits at once.
#
# Only package registries are used: the Go module proxy (influxdb, flux and
# their Go dependencies via `go mod download`) and the Rust crate registry (libflux's Rust
# dependencies via cargo). No prebuilt binaries are downloaded.
#
# How it works (and why):
#   1. influxdb's go.mod has replace directives, so `go install mod@version` is
#      refused. We `go mod download -json` the module and build a writable
#      copy of it under $RESILIENCE_CACHE/build/.
#   2. Flux's Go package links libflux (Rust) through `#cgo pkg-config: flux`.
#      Instead of InfluxData's pkg-config wrapper we build libflux ourselves
#      with cargo from the flux module that influxdb's go.mod requires, and
#      write a plain flux.pc that points at the static library. This keeps
#      the Rust build under our control:
#        - flux pins rust 1.72 via rust-toolchain.toml; rustup cannot be relied
#          on to fetch that, so the file is removed from our copy and the
#          machine's default toolchain is used;
#        - newer rustc versions add lints that flux-core/flux turn into errors
#          via `deny(warnings)` (feature "strict"); RUSTFLAGS=--cap-lints=warn
#          downgrades them to warnings (no code change needed).
#   3. influxd is built without the `assets` tag: the UI is not embedded
#      (static/TODO.go stub), the HTTP API (/health, /api/v2/...) works.
#
# Cost on 2 cores (measured on a busy machine, cold caches): libflux 78-566 s,
# influxd 233-589 s; a relink with libflux cached ~55 s; up to date ~0.2 s.
#
# Environment knobs:
#   RESILIENCE_CACHE   cache root (default $HOME/.cache/resilience)
#   INFLUXD_VERSION    influxdb v2 module version (default v2.7.12)
#   INFLUXD_FORCE=1    rebuild even if the binary exists
#   BUILD_JOBS         parallel jobs for cargo and go (default 2)
set -euo pipefail

INFLUXD_VERSION="${INFLUXD_VERSION:-v2.7.12}"
RESILIENCE_CACHE="${RESILIENCE_CACHE:-$HOME/.cache/resilience}"
BUILD_JOBS="${BUILD_JOBS:-2}"
BIN_DIR="$RESILIENCE_CACHE/bin"
BUILD_ROOT="$RESILIENCE_CACHE/build"
TARGET="$BIN_DIR/influxd"
INFLUX_MOD="github.com/influxdata/influxdb/v2"

log() { printf '[build-influxd] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The binary is usable if it runs and reports the wanted version.
binary_ok() {
	[[ -x "$TARGET" ]] || return 1
	local out
	out="$("$TARGET" version 2>/dev/null)" || return 1
	[[ "$out" == *"InfluxDB ${INFLUXD_VERSION#v}"* ]]
}

if [[ "${INFLUXD_FORCE:-0}" != 1 ]] && binary_ok; then
	log "up to date: $TARGET ($("$TARGET" version))"
	exit 0
fi

# Toolchains: rustup installs cargo under ~/.cargo/bin, which a non-login
# shell (CI) may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
	export PATH="$HOME/.cargo/bin:$PATH"
fi
for tool in go cc pkg-config flock; do
	command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found on PATH"
done

mkdir -p "$BIN_DIR" "$BUILD_ROOT"

# Serialise concurrent runs (e.g. CI and a developer shell on one machine).
exec 9>"$BUILD_ROOT/.build-influxd.lock"
flock 9
if [[ "${INFLUXD_FORCE:-0}" != 1 ]] && binary_ok; then
	log "built by a concurrent run: $TARGET"
	exit 0
fi

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="-p=$BUILD_JOBS -buildvcs=false"
export CGO_ENABLED=1
export CARGO_BUILD_JOBS="$BUILD_JOBS"
export RUSTFLAGS="${RUSTFLAGS:-} --cap-lints=warn"

now() { date +%s; }
total_start="$(now)"

# copy_module PATH@VERSION DEST: download a Go module and lay a writable copy
# of it at DEST (kept across runs; replaced if incomplete).
copy_module() {
	local modver="$1" dest="$2" dir
	if [[ -f "$dest/.complete" ]]; then
		return 0
	fi
	dir="$(cd "$BUILD_ROOT" && GOFLAGS= go mod download -json "$modver" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	[[ -n "$dir" && -d "$dir" ]] || die "go mod download $modver gave no Dir"
	rm -rf "$dest" "$dest.tmp"
	cp -r "$dir" "$dest.tmp"
	chmod -R u+w "$dest.tmp"
	mv "$dest.tmp" "$dest"
	touch "$dest/.complete"
}

# --- 1. influxdb sources --------------------------------------------------
INFLUX_SRC="$BUILD_ROOT/influxdb-$INFLUXD_VERSION"
log "fetching $INFLUX_MOD@$INFLUXD_VERSION"
copy_module "$INFLUX_MOD@$INFLUXD_VERSION" "$INFLUX_SRC"

# The flux version influxdb requires (after any replace directive).
FLUX_VERSION="$(cd "$INFLUX_SRC" && go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' github.com/influxdata/flux)"
[[ "$FLUX_VERSION" == v* ]] || die "could not determine flux version (got '$FLUX_VERSION')"
log "influxdb $INFLUXD_VERSION requires flux $FLUX_VERSION"

# --- 2. libflux (Rust) ----------------------------------------------------
FLUX_SRC="$BUILD_ROOT/flux-$FLUX_VERSION"
LIBFLUX_PREFIX="$BUILD_ROOT/libflux-$FLUX_VERSION"
if [[ ! -f "$LIBFLUX_PREFIX/lib/libflux.a" || ! -f "$LIBFLUX_PREFIX/pkgconfig/flux.pc" ]]; then
	command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to build libflux); install Rust via rustup"
	copy_module "github.com/influxdata/flux@$FLUX_VERSION" "$FLUX_SRC"
	# Use the machine's toolchain rather than flux's pinned (unfetchable) one.
	rm -f "$FLUX_SRC/rust-toolchain.toml" "$FLUX_SRC/rust-toolchain" \
		"$FLUX_SRC/libflux/rust-toolchain.toml" "$FLUX_SRC/libflux/rust-toolchain"
	libflux_log="$BUILD_ROOT/libflux-$FLUX_VERSION.log"
	log "building libflux with $(cargo --version) (log: $libflux_log)"
	t0="$(now)"
	if ! (cd "$FLUX_SRC/libflux" && cargo build --release --locked --lib -p flux) >"$libflux_log" 2>&1; then
		tail -n 60 "$libflux_log" >&2
		die "libflux build failed; see $libflux_log"
	fi
	log "libflux built in $(($(now) - t0))s"

	rm -rf "$LIBFLUX_PREFIX"
	mkdir -p "$LIBFLUX_PREFIX/lib" "$LIBFLUX_PREFIX/pkgconfig"
	# Only the static archive: with libflux.so beside it the linker would
	# pick the shared library and influxd would need it at run time.
	cp "$FLUX_SRC/libflux/target/release/libflux.a" "$LIBFLUX_PREFIX/lib/"
	cp -r "$FLUX_SRC/libflux/include" "$LIBFLUX_PREFIX/include"
	cat >"$LIBFLUX_PREFIX/pkgconfig/flux.pc" <<EOF
prefix=$LIBFLUX_PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: Flux
Version: ${FLUX_VERSION#v}
Description: Library for the InfluxData Flux engine
Libs: -L\${libdir} -lflux -ldl -lpthread -lm
Cflags: -I\${includedir}
EOF
	# The Rust build tree is large; the archive is all that is needed now.
	rm -rf "$FLUX_SRC/libflux/target"
else
	log "libflux $FLUX_VERSION already built: $LIBFLUX_PREFIX"
fi
export PKG_CONFIG_PATH="$LIBFLUX_PREFIX/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# The Go build cache keys cgo packages on CGO_* variables but NOT on
# pkg-config's output, so a cached flux/libflux package could keep linker
# flags pointing at an old libflux location or build. Tie the cache key to
# this libflux (its location and contents) through a harmless define.
LIBFLUX_ID="$( (echo "$LIBFLUX_PREFIX"; sha256sum <"$LIBFLUX_PREFIX/lib/libflux.a") | sha256sum | cut -c1-16)"
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DRESILIENCE_LIBFLUX_ID=$LIBFLUX_ID"

# --- 3. influxd (Go) ------------------------------------------------------
influxd_log="$BUILD_ROOT/influxd-$INFLUXD_VERSION.log"
log "building influxd $INFLUXD_VERSION with $(go version | cut -d' ' -f3) (log: $influxd_log)"
t0="$(now)"
if ! (cd "$INFLUX_SRC" && go build \
	-tags sqlite_foreign_keys,sqlite_json \
	-ldflags "-s -w -X main.version=${INFLUXD_VERSION#v} -X main.commit=source-build -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	-o "$BUILD_ROOT/influxd.new" ./cmd/influxd) >"$influxd_log" 2>&1; then
	tail -n 60 "$influxd_log" >&2
	die "influxd build failed; see $influxd_log"
fi
log "influxd built in $(($(now) - t0))s"

mv -f "$BUILD_ROOT/influxd.new" "$TARGET"
binary_ok || die "built $TARGET but '$TARGET version' does not report $INFLUXD_VERSION"
log "installed $TARGET: $("$TARGET" version) (total $(($(now) - total_start))s)"
