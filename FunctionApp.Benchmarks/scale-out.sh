#!/usr/bin/env bash
# A batch job's throughput as serve processes are added, against one Azurite (npm ci first), bundled model, each
# process pinned with taskset and running ONNX Runtime on one thread. Rounds are interleaved so noise hits all alike.
#   scale-out.sh [ROUNDS] [ENTRIES] [LAYOUT...]  1 process on core 0 against 2 processes on cores 0 and 1 (or the
#                                                layouts given: "0/0" is 2 processes both on core 0); checks that
#                                                the sorted results.jsonl of every run are byte-identical
#   scale-out.sh concurrency [ROUNDS] [ENTRIES]  1 process on both cores with host.json's queue batchSize /
#                                                newBatchThreshold at 1/0, 2/1 and 4/2 (chunks in flight per instance)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=scale
if [ "${1:-}" = concurrency ]; then mode=concurrency; shift; fi
rounds=${1:-2}
entries=${2:-2000}
out=artifacts/scale-out
rm -rf "$out" && mkdir -p "$out"
dotnet publish FunctionApp -c Release -o "$out/app" -v quiet -nologo >/dev/null
dotnet build FunctionApp.Benchmarks -c Release -v quiet -nologo >/dev/null
bench=(dotnet FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks.dll scale-out "$PWD/$out/app" "$PWD/FunctionApp.Tests/TestData/fashion" "$entries" "$rounds")
if [ "$mode" = scale ]; then
  if [ $# -gt 2 ]; then exec "${bench[@]}" "${@:3}"; fi
  exec "${bench[@]}" 0 0/1
fi
layouts=()
for setting in 1/0 2/1 4/2; do
  size=${setting%/*}; threshold=${setting#*/}
  app="$PWD/$out/batch$size-threshold$threshold"
  cp -r "$out/app" "$app"
  sed -i -E "s/\"batchSize\": [0-9]+/\"batchSize\": $size/; s/\"newBatchThreshold\": [0-9]+/\"newBatchThreshold\": $threshold/" "$app/host.json"
  grep -q "\"batchSize\": $size," "$app/host.json" && grep -q "\"newBatchThreshold\": $threshold," "$app/host.json"
  layouts+=("$app:0,1")
done
exec "${bench[@]}" "${layouts[@]}"
