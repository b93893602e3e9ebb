#!/usr/bin/env bash
# Build step of the browser runtime: install the pinned onnxruntime-web (package-lock.json) into
# node_modules/ next to this script. Needs npm and the npm registry once; `compact web` then serves the
# files offline. Run it again after changing package.json.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "build.sh: npm is missing (install Node.js 18 or newer)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
test -f node_modules/onnxruntime-web/dist/ort.min.mjs
echo "onnxruntime-web $(node -p 'require("./node_modules/onnxruntime-web/package.json").version') installed in $(pwd)/node_modules"
