#!/usr/bin/env bash
# npm run demo: see scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/demo.ts "$@"
