#!/usr/bin/env bash
# The int8 version of the bundled ResNet-18 model against the float one, on this machine:
#  1. `models quantize` calibrates on Fashion-MNIST training images (50 per class, never the test set) and reports
#     top-1 agreement with the float version on all 10,000 Fashion-MNIST test images, and its own speed figure;
#  2. `quantized-throughput` measures both versions in one process: raw ONNX Runtime, and the app's serving path
#     (ImageClassifier: decode, preprocessing, ML.NET pipeline from the engine pool) at c=1 and c=4, rounds
#     alternating which version goes first; it prints the median int8/float ratio of each.
# Needs Debian's dataset-fashion-mnist. Run it alone: flock /tmp/bench.lock FunctionApp.Benchmarks/quantize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
eval_per_class=${EVAL_PER_CLASS:-}
dotnet build FunctionApp.Benchmarks -c Release -v quiet -nologo >/dev/null
app=FunctionApp/bin/Release/net10.0/FunctionApp
bench=FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$app" import-fashion-mnist --split train --max-per-class 50 --out "$work/calibration" 2>/dev/null
"$app" import-fashion-mnist --split t10k --out "$work/test" 2>/dev/null
mkdir -p "$work/models"
cp -r FunctionApp/bin/Release/net10.0/models/fashion-resnet18 "$work/models/"

echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, avx512_vnni: $(grep -q avx512_vnni /proc/cpuinfo && echo yes || echo no)"
echo "== models quantize $work/models/fashion-resnet18/1 --images calibration --eval test ${eval_per_class:+--max-per-class $eval_per_class}"
"$app" models quantize "$work/models/fashion-resnet18/1" --images "$work/calibration" --eval "$work/test" ${eval_per_class:+--max-per-class "$eval_per_class"} 2>/dev/null
echo "== throughput, float version 1 against int8 version 2, $rounds rounds"
"$bench" quantized-throughput "$work/models" fashion-resnet18 1 2 "$work/test" "$rounds"
