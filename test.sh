#!/usr/bin/env bash
# Installs the test tools (Azurite, from npm, pinned in package-lock.json), builds the solution (warnings are
# errors) and runs every test. Needs the .NET 10 SDK and Node.js with npm.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command -v npm >/dev/null || { echo "npm is required to install Azurite (apt-get install nodejs npm)." >&2; exit 1; }
if [ ! -x node_modules/.bin/azurite-blob ]; then
  npm ci --no-audit --no-fund
fi

dotnet build FunctionApp.sln -c Release
log=$(mktemp)
status=0
dotnet test FunctionApp.sln -c Release --no-build 2>&1 | tee "$log" || status=$?

# One plain summary line for whoever reads the log last.
summary=$(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  failed=$(sed -E 's/Failed: +([0-9]+).*/\1/' <<<"$summary")
  passed=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$summary")
  skipped=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$summary")
  echo "$passed passed, $failed failed, $skipped skipped"
fi
rm -f "$log"
exit "$status"
