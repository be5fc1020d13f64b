#!/usr/bin/env bash
# Lighthouse (npm, pinned: 13 wants Node 22) on the storefront's home, search and item pages
# against a running `make dev` (e2e.sh runs it after the browser test), with Debian's
# Chromium, as Lighthouse scores by default: a mid-range phone on a throttled 4G connection
# (simulated). Fails below performance 90 or accessibility 100. Reports in
# $AISLE_STATE/lighthouse/ (JSON and HTML).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
tool="$AISLE_CACHE/node-lighthouse"
if [ ! -x "$tool/node_modules/.bin/lighthouse" ]; then
  mkdir -p "$tool"
  npm install --silent --no-audit --no-fund --prefix "$tool" -E lighthouse@12.2.3 >/dev/null
fi
if [ -z "${STOREFRONT:-}" ]; then
  eval "$(grep '^export ' "$AISLE_STATE/dev.out" 2>/dev/null || true)"
fi
: "${STOREFRONT:?make dev is not running (no STOREFRONT in $AISLE_STATE/dev.out)}"
: "${AISLE:?no AISLE (the API) in $AISLE_STATE/dev.out}"
# An item with a picture from the seeded demo products.
item=$(curl -sf "$AISLE/v1/items?q=samsung&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["itemId"])')
out="$AISLE_STATE/lighthouse"
rm -rf "$out"; mkdir -p "$out"
failed=0
for page in "home|$STOREFRONT/#/" "search|$STOREFRONT/#/search?q=samsung" "item|$STOREFRONT/#/item/$item"; do
  name="${page%%|*}"; url="${page#*|}"
  "$tool/node_modules/.bin/lighthouse" "$url" --quiet \
    --chrome-path="${CHROMIUM:-/usr/bin/chromium}" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
    --only-categories=performance,accessibility --output=json --output=html \
    --output-path="$out/$name" >/dev/null 2>"$out/$name.log" || { echo "lighthouse failed on $name:"; tail -20 "$out/$name.log"; exit 1; }
  read -r perf a11y lcp cls tbt < <(python3 - "$out/$name.report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, a = r["categories"], r["audits"]
print(round(c["performance"]["score"] * 100), round(c["accessibility"]["score"] * 100),
      a["largest-contentful-paint"]["displayValue"].replace(" ", ""), a["cumulative-layout-shift"]["displayValue"].replace(" ", ""),
      a["total-blocking-time"]["displayValue"].replace(" ", ""))
PY
)
  echo "lighthouse $name: performance $perf, accessibility $a11y (LCP $lcp, CLS $cls, TBT $tbt) $out/$name.report.html"
  if [ "$perf" -lt 90 ] || [ "$a11y" -lt 100 ]; then failed=1; fi
done
[ $failed = 0 ] || { echo "lighthouse: below performance 90 or accessibility 100"; exit 1; }
echo "lighthouse: all pages at performance >= 90 and accessibility 100"
