#!/usr/bin/env bash
# Vendor the JavaScript DealWatch uses, at the versions pinned in package.json / package-lock.json:
#   uPlot     -> search_ui/static/vendor/   (the attention chart; served by the app itself)
#   axe-core  -> tests/vendor/              (the accessibility check of the browser tests; never served)
# The copies are committed, each with its licence header, so the app and the tests work offline and
# nothing is ever loaded from a CDN. Run it after changing a version in package.json:
#   scripts/vendor-js.sh            (needs npm; installs into node_modules/, which is not committed)
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --ignore-scripts >/dev/null

version() { node -p "require('./node_modules/$1/package.json').version"; }

static=search_ui/static/vendor
mkdir -p "$static" tests/vendor

uplot=$(version uplot)
{
  echo "/*! uPlot v$uplot (https://github.com/leeoniya/uPlot), vendored by scripts/vendor-js.sh"
  sed 's/^/ * /' node_modules/uplot/LICENSE
  echo " */"
  cat node_modules/uplot/dist/uPlot.iife.min.js
} > "$static/uPlot.iife.min.js"
{
  echo "/*! uPlot v$uplot stylesheet (MIT License, Copyright (c) 2022 Leon Sorokin) */"
  cat node_modules/uplot/dist/uPlot.min.css
} > "$static/uPlot.min.css"

# axe-core's own header already carries its MPL-2.0 notice, which must stay with the file
cp node_modules/axe-core/axe.min.js tests/vendor/axe.min.js
cp node_modules/axe-core/LICENSE tests/vendor/axe-core.LICENSE

echo "vendored uPlot $uplot into $static, axe-core $(version axe-core) into tests/vendor"
