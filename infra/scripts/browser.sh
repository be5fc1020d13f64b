#!/usr/bin/env bash
# The storefront in headless Chromium (infra/scripts/browser.py) against a running `make dev`
# (e2e.sh runs it; by hand: `make dev` in one terminal, then `make browser`). Installs Debian's
# chromium and chromium-driver if missing (apt-get update first, once) and Selenium into its
# own venv under $AISLE_CACHE. Selenium is given the driver's path, so it downloads nothing.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
venv="$AISLE_CACHE/venv-browser"
if ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$venv"
  # 4.52 needs a certifi newer than this machine's PyPI mirror has.
  "$venv/bin/pip" install --quiet --disable-pip-version-check selenium==4.51.0
fi
# axe-core (npm), injected into every page the test shows.
a11y="$AISLE_CACHE/node-a11y"
if [ ! -f "$a11y/node_modules/axe-core/axe.min.js" ]; then
  mkdir -p "$a11y"
  npm install --silent --no-audit --no-fund --prefix "$a11y" axe-core@4.14.1 >/dev/null
fi
export AXE_JS="$a11y/node_modules/axe-core/axe.min.js"
if [ -z "${STOREFRONT:-}" ]; then
  # By hand: take the URLs and tokens from the running make dev's output.
  eval "$(grep '^export ' "$AISLE_STATE/dev.out" 2>/dev/null || true)"
fi
: "${STOREFRONT:?make dev is not running (no STOREFRONT in $AISLE_STATE/dev.out)}"
rm -rf "$AISLE_STATE/screenshots"
SE_OFFLINE=true "$venv/bin/python" "$here/browser.py"
