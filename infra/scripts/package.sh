#!/usr/bin/env bash
# `make package`: `sam build` of template.yaml, as a deployer runs it: SAM's rust-cargolambda
# builder runs `cargo lambda build --release --arm64 --bin <name>` for each function (arm64,
# cross-linked by cargo-lambda's zig). Installs what it needs on first use: aws-sam-cli in its
# own venv (~/.cache/aisle/venv-sam), the aarch64 Rust target, cargo-lambda (PyPI, with zig).
# Prints the time taken and each function's bootstrap size. Output: .aws-sam/build/.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
cd "$AISLE_ROOT"
venv="$AISLE_CACHE/venv-sam"
if ! "$venv/bin/sam" --version 2>/dev/null | grep -q '1.170.0'; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==1.170.0"
fi
command -v cargo-lambda >/dev/null || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu
# SAM's Rust builder looks for the binaries under ./target: a CARGO_TARGET_DIR elsewhere
# (CI's shared one) would hide them from it.
unset CARGO_TARGET_DIR
export SAM_CLI_TELEMETRY=0
start=$SECONDS
# Rust builds are still a beta feature of SAM CLI, hence --beta-features.
"$venv/bin/sam" build --beta-features --build-dir .aws-sam/build
echo "sam build took $((SECONDS - start)) s"
echo "bootstrap sizes (bytes, arm64 release):"
for f in .aws-sam/build/*/bootstrap; do
  printf '%10d  %s\n' "$(stat -c %s "$f")" "$(basename "$(dirname "$f")")"
done | sort -k2
file "$(ls .aws-sam/build/*/bootstrap | head -1)" | sed 's/^/first bootstrap: /'
