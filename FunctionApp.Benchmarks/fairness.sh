#!/usr/bin/env bash
# A dropped image's wait for its result, with the instance idle and while a 2,000-entry batch job runs on it:
# the published app's serve against Azurite (npm ci first), bundled model. Prints a table for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/fairness
rm -rf "$out" && mkdir -p "$out"
dotnet publish FunctionApp -c Release -o "$out/app" -v quiet -nologo >/dev/null
dotnet run -c Release --project FunctionApp.Benchmarks -- fairness "$PWD/$out/app" "${1:-2000}" "${2:-5}"
