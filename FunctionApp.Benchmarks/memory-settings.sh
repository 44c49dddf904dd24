#!/usr/bin/env bash
# Memory of serve under the hostile-input suite (FunctionApp.Tests/Hostile) with each runtime setting, RUNS times:
# resident memory in steady state (model loaded, engines warm), at its peak during the corpus and the memory cases
# (16 clients with 6000x6000 PNGs, a batch of 19 MiB entries), and a minute after the load. Read from /proc.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dotnet build FunctionApp.Tests -c Release -v quiet -nologo >/dev/null
settings=(
  "workstation GC (default)|"
  "workstation GC, GCConserveMemory=7|DOTNET_GCConserveMemory=7"
  "server GC with DATAS|DOTNET_gcServer=1"
  "server GC without DATAS|DOTNET_gcServer=1;DOTNET_GCDynamicAdaptationMode=0"
  "workstation GC, 768 MiB heap hard limit|DOTNET_GCHeapHardLimit=0x30000000"
)
echo "| setting | run | steady MiB | peak MiB | a minute after MiB |"
echo "| --- | --- | --- | --- | --- |"
for entry in "${settings[@]}"; do
  name=${entry%%|*}; env=${entry#*|}
  for run in $(seq "$runs"); do
    line=$(HOSTILE_SERVE_SETTINGS="$env" dotnet test FunctionApp.Tests -c Release --no-build --filter "FullyQualifiedName~HostileInputTests" --logger "console;verbosity=detailed" 2>&1 | grep -m1 "answers; RSS" || true)
    steady=$(sed -E 's/.*steady ([0-9]+) MiB.*/\1/' <<<"$line")
    peak=$(sed -E 's/.*peak ([0-9]+) MiB.*/\1/' <<<"$line")
    after=$(sed -E 's/.*after the load ([0-9]+) MiB.*/\1/' <<<"$line")
    echo "| $name | $run | $steady | $peak | $after |"
  done
done
