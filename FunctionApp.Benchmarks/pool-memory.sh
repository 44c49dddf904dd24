#!/usr/bin/env bash
# Peak working set of a process serving the bundled model with a pool of 1 engine against 8 engines,
# alternating 1, 8, 1, 8, ... so machine noise hits both alike; prints each run and the median ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
dotnet build FunctionApp.Benchmarks -c Release -v quiet -nologo >/dev/null
bin=FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks
one=(); eight=()
for i in $(seq "$runs"); do
  for n in 1 8; do
    line=$("$bin" pool-memory "$n")
    echo "run $i: $line"
    mib=$(sed -E 's/.*peakWorkingSetMiB=([0-9.]+).*/\1/' <<<"$line")
    if [ "$n" = 1 ]; then one+=("$mib"); else eight+=("$mib"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m1=$(median "${one[@]}"); m8=$(median "${eight[@]}")
echo "median peak working set: 1 engine ${m1} MiB, 8 engines ${m8} MiB, ratio $(awk -v a="$m8" -v b="$m1" 'BEGIN {printf "%.3f", a/b}')"
