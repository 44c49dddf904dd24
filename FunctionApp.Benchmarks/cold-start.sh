#!/usr/bin/env bash
# Cold start, measured from process start to the first successful prediction, RUNS times each, interleaved:
#   floor - a bare ONNX Runtime console program loading ResNet-18 and running one inference (then exiting);
#   lazy  - `FunctionApp serve` (ReadyToRun, linux-x64): wait for /api/health/live, then POST one image;
#   eager - the same with Models__WarmUp=Eager: wait for /api/health/ready, then POST one image.
# The app's split (host start, model load, first inference) comes from /api/health/ready's cold-start facts.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=artifacts/cold-start
rm -rf "$out" && mkdir -p "$out"
# ReadyToRun intermediates of another publish mode (composite or not) would be reused as they are.
rm -rf FunctionApp/obj/Release/net10.0/linux-x64/R2R
dotnet publish FunctionApp -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=true -o "$out/app" -v quiet -nologo >/dev/null
dotnet build FunctionApp.Benchmarks -c Release -v quiet -nologo >/dev/null
floor_bin=FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks
model="$out/app/models/fashion-resnet18/1/resnet18.onnx"
image=FunctionApp.Tests/TestData/fashion/sneaker/t10k-00009.png
port=7399
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

wait_for() { # url -> waits until it answers 200
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ]; do sleep 0.005; done
}

run_app() { # mode -> prints "total host load first"
  local mode=$1 start up pid total facts
  start=$(now)
  if [ "$mode" = eager ]; then export Models__WarmUp=Eager; else export Models__WarmUp=Lazy; fi
  "$out/app/FunctionApp" serve --urls "http://127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  wait_for "http://127.0.0.1:$port/api/health/live"
  up=$(now)
  [ "$mode" = eager ] && wait_for "http://127.0.0.1:$port/api/health/ready"
  curl -sf -X POST -H "Content-Type: image/png" --data-binary @"$image" "http://127.0.0.1:$port/api/predict?top=1" >/dev/null
  total=$(ms "$start" "$(now)")
  facts=$(curl -s "http://127.0.0.1:$port/api/health/ready")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local load first
  load=$(sed -E 's/.*"loadMs":([0-9.]+).*/\1/' <<<"$facts" | cut -d. -f1)
  first=$(sed -E 's/.*"firstPredictionMs":([0-9.]+).*/\1/' <<<"$facts" | cut -d. -f1)
  echo "$total $(ms "$start" "$up") $load $first"
}

floor=(); lazy=(); eager=()
for i in $(seq "$runs"); do
  start=$(now); "$floor_bin" ort-floor "$model" Input247 >/dev/null; f=$(ms "$start" "$(now)")
  read -r lt lh ll lf <<<"$(run_app lazy)"
  read -r et eh el ef <<<"$(run_app eager)"
  echo "run $i: floor ${f} ms | lazy ${lt} ms (host ${lh}, load ${ll}, first inference ${lf}) | eager ${et} ms (host ${eh}, load ${el}, first inference ${ef})"
  floor+=("$f"); lazy+=("$lt"); eager+=("$et")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mf=$(median "${floor[@]}"); ml=$(median "${lazy[@]}"); me=$(median "${eager[@]}")
echo "median: floor ${mf} ms, lazy ${ml} ms ($(awk -v a="$ml" -v b="$mf" 'BEGIN {printf "%.2f", a/b}')x), eager ${me} ms ($(awk -v a="$me" -v b="$mf" 'BEGIN {printf "%.2f", a/b}')x)"
