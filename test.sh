#!/usr/bin/env bash
# Installs the test tools (Azurite, from npm, pinned in package-lock.json; Chromium and the Azure CLI, from Debian's packages),
# builds the solution (warnings are errors) and runs every test. Needs the .NET 10 SDK, Node.js with npm, and
# apt-get (as root, or with sudo) unless Chromium and the Azure CLI are already there.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command -v npm >/dev/null || { echo "npm is required to install Azurite (apt-get install nodejs npm)." >&2; exit 1; }
if [ ! -x node_modules/.bin/azurite-blob ]; then
  npm ci --no-audit --no-fund
fi

# Debian packages the tests need, installed when missing: Chromium for the try-it page tests (driven through
# Playwright; Playwright's own browser downloads are never used; CHROMIUM_PATH may name another Chromium or Chrome
# binary), and the Azure CLI, which the README's "Bring your own model" commands use and a test runs as typed.
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
missing=()
[ -x "$chromium" ] || missing+=(chromium)
command -v az >/dev/null || missing+=(azure-cli)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian's ${missing[*]} for the tests."
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Installing ${missing[*]} needs root or sudo: run apt-get install ${missing[*]} as root." >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  [ -x "$chromium" ] || { echo "Chromium is still missing at $chromium after the install." >&2; exit 1; }
  command -v az >/dev/null || { echo "The Azure CLI (az) is still missing after the install." >&2; exit 1; }
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
