#!/usr/bin/env bash
# The project's two everyday commands:
#   ./build.sh run    run the gateway with embedded defaults (in-memory state, dry-run Wootric)
#   ./build.sh test   build and run every test (needs node with tests/clients installed by npm ci)
set -euo pipefail
cd "$(dirname "$0")"

case "${1:-}" in
  run)
    shift
    exec dotnet run --project src/WootricGateway -c Release -- "$@"
    ;;
  test)
    shift
    # npm ci again when package-lock.json changed after the last install.
    if [ ! -d tests/clients/node_modules ] || [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then
      (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
    fi
    dotnet build WootricGateway.sln -c Release
    log=$(mktemp)
    status=0
    dotnet test WootricGateway.sln -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
    # One plain summary line for CI readers, from dotnet test's own totals.
    passed=$(grep -E '^ +Passed: +[0-9]+$' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    failed=$(grep -E '^ +Failed: +[0-9]+$' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    skipped=$(grep -E '^ +Skipped: +[0-9]+$' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    if [ -n "$passed" ]; then
      echo "${passed} passed, ${failed:-0} failed, ${skipped:-0} skipped"
    fi
    rm -f "$log"
    exit "$status"
    ;;
  *)
    echo "usage: ./build.sh run|test [extra arguments for dotnet]" >&2
    exit 2
    ;;
esac
