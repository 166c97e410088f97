#!/usr/bin/env bash
# Runs the core's fuzz targets (fuzz/, cargo-fuzz) for a while each and
# fails on the first crash, leak, timeout or failed assertion.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target defaults to 30 (FUZZ_SECONDS overrides it too); the
# targets default to all of them (jsonrpc, sse, stdio). Installs the pinned
# cargo-fuzz when it is missing. cargo-fuzz needs nightly compiler flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Inputs that find
# new coverage are added to fuzz/corpus/<target>/ (only the seed-* files are
# committed); a crashing input is written to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
seconds="${1:-${FUZZ_SECONDS:-30}}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(jsonrpc sse stdio)
fi

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export RUSTC_BOOTSTRAP=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
summary=()
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s"
  # -timeout: seconds one input may take before it counts as a hang.
  cargo fuzz run "$target" -- -max_total_time="$seconds" -timeout=10 -print_final_stats=1 2>&1 | tee "$log"
  summary+=("$target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)")
done
printf 'fuzz: %s\n' "${summary[@]}"
