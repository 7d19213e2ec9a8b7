#!/usr/bin/env bash
# Put the charting library (uPlot, MIT) into app/static/vendor/ at its pinned version, from the npm registry.
# The files are also committed, so `make run` works without npm; this refreshes them when the pin changes.
#   bash scripts/vendor-js.sh           # only when the committed copy is not the pinned version
#   FORCE=1 bash scripts/vendor-js.sh   # always fetch again (e.g. to check the committed copy)
set -euo pipefail
UPLOT_VERSION=1.6.32
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${VENDOR_DIR:-$root/app/static/vendor}"
js="$dest/uPlot.iife.min.js"
if [ "${FORCE:-0}" != 1 ] && head -c 80 "$js" 2>/dev/null | grep -q "(v$UPLOT_VERSION)"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm is missing and $js is not uPlot $UPLOT_VERSION: install Node.js/npm, or restore the committed file (git checkout -- app/static/vendor)" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# --no-save into a temporary folder: no package.json or node_modules in the project; npm checks the
# registry's integrity hash of the tarball.
(cd "$work" && npm install --no-save --no-audit --no-fund --ignore-scripts --silent "uplot@$UPLOT_VERSION")
mkdir -p "$dest"
cp "$work/node_modules/uplot/dist/uPlot.iife.min.js" "$work/node_modules/uplot/dist/uPlot.min.css" "$dest/"
cp "$work/node_modules/uplot/LICENSE" "$dest/uPlot.LICENSE"
echo "app/static/vendor: uPlot $UPLOT_VERSION from the npm registry"
