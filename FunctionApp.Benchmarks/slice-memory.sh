#!/usr/bin/env bash
# Peak working set and median latency of the bundled ResNet-18: whole, and in 2, 4 and 8 slices cut by weight
# bytes or by equal node counts, all resident or one slice at a time. Each measurement is its own process that
# only loads and runs (slices are written beforehand by another process). RUNS rounds, interleaved; medians.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dotnet build FunctionApp.Benchmarks -c Release -v quiet -nologo >/dev/null
bin=FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 2 4 8; do
  for p in weights nodes; do
    largest=$("$bin" slice-memory prepare "$n" "$p" "$work/$p-$n")
    echo "$p-$n $largest" >> "$work/largest.txt"
  done
done
declare -A peak latency
for r in $(seq "$runs"); do
  for key in baseline original $(for n in 2 4 8; do for p in weights nodes; do for m in resident onebyone; do echo "$m:$p-$n"; done; done; done); do
    if [ "$key" = original ] || [ "$key" = baseline ]; then line=$("$bin" slice-memory run "$key" -); else line=$("$bin" slice-memory run "${key%%:*}" "$work/${key#*:}"); fi
    peak[$key]+="$(sed -E 's/.*peakMiB=([0-9.]+).*/\1/' <<<"$line") "
    latency[$key]+="$(sed -E 's/.*medianMs=([0-9.]+).*/\1/' <<<"$line") "
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(median "${peak[original]}")
empty=$(median "${peak[baseline]}")
echo "process without a model: $empty MiB; model memory = peak - that"
printf '%-24s %10s %8s %12s %10s %14s\n' "run" "peak MiB" "ratio" "model ratio" "median ms" "largest slice"
printf '%-24s %10s %8s %12s %10s %14s\n' "original" "$base" "1.00" "1.00" "$(median "${latency[original]}")" "-"
for n in 2 4 8; do for p in weights nodes; do for m in resident onebyone; do
  key="$m:$p-$n"; pk=$(median "${peak[$key]}")
  printf '%-24s %10s %8s %12s %10s %14s\n' "$n $p $m" "$pk" "$(awk -v a="$pk" -v b="$base" 'BEGIN {printf "%.2f", a/b}')" "$(awk -v a="$pk" -v b="$base" -v e="$empty" 'BEGIN {printf "%.2f", (a-e)/(b-e)}')" "$(median "${latency[$key]}")" "$(grep "^$p-$n " "$work/largest.txt" | sed -E 's/.*=([0-9.]+)/\1 MB/')"
done; done; done
