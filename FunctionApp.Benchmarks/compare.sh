#!/usr/bin/env bash
# The app's `serve` side by side with two baselines that do the same job the way their ecosystems usually do it,
# one server at a time, same photos, same model, same wrk load; then cold start against bare ONNX Runtime.
#   mlnet-classic  ASP.NET Core minimal API + the ML.NET samples' pipeline (MLImage -> ResizeImages -> ExtractPixels ->
#                  ApplyOnnxModel) served from a pool of PredictionEngines (baselines/mlnet-classic)
#   node-ort       Node.js http + sharp + onnxruntime-node, versions pinned in baselines/node-ort/package-lock.json
#   app            `FunctionApp serve`, published self-contained ReadyToRun (the framework trimmed, one composite image with it)
# Prints, per (model, photo): req/s at each level, p50/p99 latency, peak RSS (VmHWM) of the server process, and the
# app's ratios to the best baseline, the floor of one request beside the baselines' p50 at c=1; then the cold-start medians (process start to first successful prediction), and
# the Functions worker's start to a warm model against a stand-in for the host (Core Tools cannot run here).
#
# usage: FunctionApp.Benchmarks/compare.sh [SECONDS=10] [LEVELS="1 4"] [RUNS=1]
# env:   LIGHT_MODEL=DIR   a light ImageNet model package, the version folder holding model.json, its .onnx and labels
#                          (such as models/squeezenet/1), for the "light" rows; the
#                          baselines feed it BGR 0-255 without mean/std (e.g. SqueezeNet 1.0 from the ONNX model zoo).
#                          Without it only the bundled ResNet-18 ("heavy") is compared.
#        IMAGES="A B"      photos to post; default: the 741x500 PNG motorcycle photo from Debian's python3-skimage
#                          package (fetched with apt-get download) and the same scene as a 1024x768 JPEG (q90).
#        SERVERS="mlnet-classic node-ort app"   MODELS="light heavy"   COLD_RUNS=5 (0 = skip cold start)
#        APP_ENV="VAR=value ..."  extra settings for the app;  APP_DIR=DIR  use an already published app;
#        APP_PUBLISH=self-contained (default: framework and app in one composite ReadyToRun image) or framework-dependent.
# Needs the .NET SDK, node + npm, curl and wrk (installed with apt-get when missing).
# The machine's other work skews absolute figures: compare ratios from one run, and repeat (RUNS) for medians.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
SECS=${1:-10}; LEVELS=${2:-"1 4"}; RUNS=${3:-1}
SERVERS=${SERVERS:-"mlnet-classic node-ort app"}; COLD_RUNS=${COLD_RUNS:-5}
want() { [[ " $SERVERS " == *" $1 "* ]]; }
die() { echo "compare.sh: $*" >&2; exit 2; }
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 1 && "$SECS" -le 300 ]] || die "SECONDS must be 1..300"
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || die "RUNS must be a positive number"
work=${WORK_DIR:-$repo/artifacts/compare}
mkdir -p "$work"

# Tools: wrk from the distribution when missing (as root, or with sudo).
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "Installing wrk (apt-get)..." >&2
  { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; } >"$work/apt.log" 2>&1 \
    || die "could not install wrk (see $work/apt.log); install it with: apt-get install wrk"
fi
for tool in dotnet curl; do command -v $tool >/dev/null || die "$tool is required"; done

# The app, published ReadyToRun (self-contained: one composite image with the framework; APP_PUBLISH=framework-dependent
# for the app's own ReadyToRun code on the shared framework); the benchmark helpers (cold-start floor, JPEG encoder);
# the baselines.
echo "Publishing the app and building the baselines..." >&2
if [ -z "${APP_DIR:-}" ]; then
  APP_DIR=$work/app
  case "${APP_PUBLISH:-self-contained}" in
    self-contained) contained=true ;;
    framework-dependent) contained=false ;;
    *) die "APP_PUBLISH must be self-contained or framework-dependent" ;;
  esac
  rm -rf "$APP_DIR"
  # ReadyToRun intermediates of another publish mode (composite or not) would be reused as they are.
  rm -rf FunctionApp/obj/Release/net10.0/linux-x64/R2R
  dotnet publish FunctionApp -c Release -r linux-x64 --self-contained $contained -p:PublishReadyToRun=true -o "$APP_DIR" -nologo >"$work/publish.log" 2>&1 \
    || die "publishing the app failed: $work/publish.log"
fi
dotnet build FunctionApp.Benchmarks -c Release -nologo >"$work/bench-build.log" 2>&1 || die "building FunctionApp.Benchmarks failed: $work/bench-build.log"
bench=FunctionApp.Benchmarks/bin/Release/net10.0/FunctionApp.Benchmarks
ml_dll=$work/baselines/mlnet-classic/artifacts/publish/MlnetClassic/release/MlnetClassic.dll
if want mlnet-classic; then
  dotnet publish FunctionApp.Benchmarks/baselines/mlnet-classic/MlnetClassic.csproj -c Release -p:BaselineBuildDir="$work/baselines/mlnet-classic" -nologo >"$work/mlnet-build.log" 2>&1 \
    || die "building the mlnet-classic baseline failed: $work/mlnet-build.log"
fi
node_dir=$work/baselines/node-ort
if want node-ort; then
  command -v npm >/dev/null || die "npm is required for the node-ort baseline (or leave it out of SERVERS)"
  mkdir -p "$node_dir" && cp FunctionApp.Benchmarks/baselines/node-ort/{package.json,package-lock.json,server.js} "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund) >"$work/npm.log" 2>&1 || die "npm ci for node-ort failed: $work/npm.log"
fi

# Photos.
if [ -z "${IMAGES:-}" ]; then
  img_dir=$work/images; mkdir -p "$img_dir"
  if [ ! -f "$img_dir/motorcycle_741x500.png" ]; then
    echo "Fetching the photo (Debian package python3-skimage, apt-get download)..." >&2
    (cd "$img_dir" && apt-get download python3-skimage >"$work/images.log" 2>&1) || die "apt-get download python3-skimage failed (see $work/images.log); pass IMAGES=..."
    dpkg-deb -x "$img_dir"/python3-skimage_*.deb "$img_dir/deb"
    cp "$(find "$img_dir/deb" -name motorcycle_left.png | head -1)" "$img_dir/motorcycle_741x500.png" || die "the package holds no motorcycle_left.png; pass IMAGES=..."
    rm -rf "$img_dir/deb" "$img_dir"/python3-skimage_*.deb
  fi
  [ -f "$img_dir/motorcycle_1024x768.jpg" ] || "$bench" encode-jpeg "$img_dir/motorcycle_741x500.png" "$img_dir/motorcycle_1024x768.jpg" 1024 768 90 >/dev/null \
    || die "could not make the JPEG photo"
  IMAGES="$img_dir/motorcycle_741x500.png $img_dir/motorcycle_1024x768.jpg"
fi
for img in $IMAGES; do [ -f "$img" ] || die "no such image: $img"; done

# Models: the bundled ResNet-18 (heavy), and LIGHT_MODEL when given.
MODELS=${MODELS:-"light heavy"}
if [ -z "${LIGHT_MODEL:-}" ]; then MODELS=${MODELS//light/}; fi
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
ln -s "$APP_DIR/models/fashion-resnet18" "$root/fashion-resnet18"
heavy_onnx=$(ls "$APP_DIR"/models/fashion-resnet18/1/*.onnx | head -1)
light_name=""; light_onnx=""; light_labels=""
if [ -n "${LIGHT_MODEL:-}" ]; then
  [ -f "$LIGHT_MODEL/model.json" ] || die "LIGHT_MODEL must be a model package's version folder (holding model.json): $LIGHT_MODEL"
  light_name=$(sed -n 's/.*"name" *: *"\([^"]*\)".*/\1/p' "$LIGHT_MODEL/model.json" | head -1)
  light_onnx="$LIGHT_MODEL/$(sed -n 's/.*"onnxFile" *: *"\([^"]*\)".*/\1/p' "$LIGHT_MODEL/model.json" | head -1)"
  light_labels="$LIGHT_MODEL/$(sed -n 's/.*"labels" *: *"\([^"]*\)".*/\1/p' "$LIGHT_MODEL/model.json" | head -1)"
  mkdir -p "$root/$light_name" && ln -s "$(cd "$LIGHT_MODEL" && pwd)" "$root/$light_name/$(sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' "$LIGHT_MODEL/model.json" | head -1)"
fi

wait_up() { for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "server did not come up: $1" >&2; return 1; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
wrk_one() { # url image conns seconds label -> RESULT line
  local t=$(( $3 < 2 ? $3 : 2 ))
  timeout $(( $4 + 30 )) wrk -t"$t" -c"$3" -d"$4s" --timeout 10s -s FunctionApp.Benchmarks/perf/post.lua "$1" -- "$2" "$5" | grep '^RESULT'
}
results=$work/results.txt; : >"$results"
measure() { # server model url image pid
  local code highest line
  code=$(curl -s -o "$work/probe.json" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/octet-stream' --data-binary @"$4" "$3")
  [ "$code" = 200 ] || { echo "probe failed for $1 ($code): $(head -c 300 "$work/probe.json")" >&2; return 1; }
  highest=$(printf '%s\n' $LEVELS | sort -n | tail -1)
  wrk_one "$3" "$4" "$highest" 3 warmup >/dev/null
  for c in $LEVELS; do
    line=$(wrk_one "$3" "$4" "$c" "$SECS" "c$c")
    rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line"); p50=$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    p99=$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    errs=$(awk '{for(i=1;i<=NF;i++){split($i,a,"="); if(a[1]=="non2xx"||a[1]=="sockerr"||a[1]=="timeouts") s+=a[2]}} END{print s+0}' <<<"$line")
    echo "$1 $2 $(basename "$4") $c ${rps:-0} ${p50:-0} ${p99:-0} $errs" >>"$results"
  done
  echo "$1 $2 $(basename "$4") rss $(awk '/VmHWM/{printf "%d", $2/1024}' /proc/$5/status)" >>"$results"
}

# A model the build did not prepare (the light one, from LIGHT_MODEL) is kept as ONNX Runtime optimized it in a cache on
# the machine's disk (OnnxRuntime:CacheOptimizedModels), which its first start there writes in the background after its
# first prediction; a deployed instance serves from its later starts, so one start per model primes it (it runs until
# its log says the optimized model is saved or was used, or that it loaded the prepared model the build shipped).
if want app; then
  for model in $MODELS; do
    if [ "$model" = light ]; then name=$light_name; else name=fashion-resnet18; fi
    env Models__Root="$root" Models__Default="$name" ${APP_ENV:-} "$APP_DIR/FunctionApp" serve --urls http://127.0.0.1:5413 >"$work/app-prime.log" 2>&1 & p=$!
    wait_up http://127.0.0.1:5413/api/health/live && curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/octet-stream' \
      --data-binary @"$(printf '%s\n' $IMAGES | head -1)" "http://127.0.0.1:5413/api/predict?model=$name"
    for _ in $(seq 300); do grep -qE "optimized|prepared" "$work/app-prime.log" && break; sleep 0.1; done
    stop $p
  done
fi

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/{print $2}') GiB; seconds/level=$SECS levels=\"$LEVELS\" runs=$RUNS"
for run in $(seq "$RUNS"); do
  for model in $MODELS; do
    if [ "$model" = light ]; then onnx=$light_onnx; mode=squeezenet; name=$light_name; labels=$light_labels
    else onnx=$heavy_onnx; mode=resnet; name=fashion-resnet18; labels=/dev/null; fi
    for img in $IMAGES; do
      echo "run $run/$RUNS: $model, $(basename "$img")" >&2
      if want mlnet-classic; then
        dotnet "$ml_dll" --port 5411 --model "$onnx" --mode $mode --labels "$labels" >"$work/mlnet.log" 2>&1 & p=$!
        wait_up http://127.0.0.1:5411/health && measure mlnet-classic $model http://127.0.0.1:5411/predict "$img" $p; stop $p
      fi
      if want node-ort; then
        node "$node_dir/server.js" --port 5412 --model "$onnx" --mode $mode --labels "$labels" >"$work/node.log" 2>&1 & p=$!
        wait_up http://127.0.0.1:5412/health && measure node-ort $model http://127.0.0.1:5412/predict "$img" $p; stop $p
      fi
      if want app; then
        env Models__Root="$root" Models__Default="$name" ${APP_ENV:-} "$APP_DIR/FunctionApp" serve --urls http://127.0.0.1:5413 >"$work/app.log" 2>&1 & p=$!
        wait_up http://127.0.0.1:5413/api/health/live && measure app $model "http://127.0.0.1:5413/api/predict?model=$name&top=5" "$img" $p; stop $p
      fi
    done
  done
done

# Medians over the runs, one table row per (model, photo).
lo=$(printf '%s\n' $LEVELS | sort -n | head -1); hi=$(printf '%s\n' $LEVELS | sort -n | tail -1)
awk -v lo="$lo" -v hi="$hi" -v servers="$SERVERS" '
  function median(key,   n, i, j, t, v) { n = cnt[key]; if (!n) return ""; for (i = 1; i <= n; i++) v[i] = val[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  function add(key, x) { val[key, ++cnt[key]] = x }
  $4 == "rss" { add($1 SUBSEP $2 SUBSEP $3 SUBSEP "rss", $5); rows[$2 SUBSEP $3] = 1; next }
  { k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4; add(k SUBSEP "rps", $5); add(k SUBSEP "p50", $6); add(k SUBSEP "p99", $7); err[k] += $8 }
  END {
    n = split(servers, sv, " ")
    printf "\n| model | photo | server | req/s c=%s | req/s c=%s | p50 ms c=%s | p99 ms c=%s | peak RSS MB | errors |\n|---|---|---|---|---|---|---|---|---|\n", lo, hi, lo, hi
    for (r in rows) { split(r, mi, SUBSEP)
      for (s = 1; s <= n; s++) { b = sv[s] SUBSEP r
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", mi[1], mi[2], sv[s], median(b SUBSEP lo SUBSEP "rps"), median(b SUBSEP hi SUBSEP "rps"),
          median(b SUBSEP lo SUBSEP "p50"), median(b SUBSEP hi SUBSEP "p99"), median(b SUBSEP "rss"), err[b SUBSEP lo] + err[b SUBSEP hi] } }
    printf "\n| model | photo | req/s c=%s, app / best baseline | p50 c=%s, app / best | p99 c=%s, app / best | peak RSS, app / leanest |\n|---|---|---|---|---|---|\n", hi, lo, hi
    for (r in rows) { split(r, mi, SUBSEP); a = "app" SUBSEP r; brps = 0; bp50 = 1e9; bp99 = 1e9; brss = 1e9; any = 0
      for (s = 1; s <= n; s++) { if (sv[s] == "app") continue; b = sv[s] SUBSEP r; if (median(b SUBSEP hi SUBSEP "rps") == "") continue; any = 1
        if (median(b SUBSEP hi SUBSEP "rps") > brps) brps = median(b SUBSEP hi SUBSEP "rps")
        if (median(b SUBSEP lo SUBSEP "p50") < bp50) bp50 = median(b SUBSEP lo SUBSEP "p50")
        if (median(b SUBSEP hi SUBSEP "p99") < bp99) bp99 = median(b SUBSEP hi SUBSEP "p99")
        if (median(b SUBSEP "rss") < brss) brss = median(b SUBSEP "rss") }
      if (!any || median(a SUBSEP hi SUBSEP "rps") == "") continue
      printf "| %s | %s | %.2f | %.2f | %.2f | %.2f |\n", mi[1], mi[2], median(a SUBSEP hi SUBSEP "rps") / brps, median(a SUBSEP lo SUBSEP "p50") / bp50,
        median(a SUBSEP hi SUBSEP "p99") / bp99, median(a SUBSEP "rss") / brss }
  }' "$results"

# awk: the median of a space-separated list of numbers.
median_of='function median_of(list,   n, v, a, b, t) { n = split(list, v, " "); for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
'
# The ceiling for the heavy model: bare ONNX Runtime (no decoding, no HTTP) on a zero tensor, best split of the cores.
if want app && [[ " $MODELS " == *" heavy "* ]]; then
  echo
  "$bench" ort-throughput "$heavy_onnx" Input247 "$SECS" >"$work/ort-throughput.txt" || die "ort-throughput failed"
  sed 's/^/raw ONNX Runtime, ResNet-18: /' "$work/ort-throughput.txt"
  best=$(sed -n 's/^best .* images\/s=\([0-9.]*\).*/\1/p' "$work/ort-throughput.txt")
  awk -v hi="$hi" -v best="$best" "$median_of"'$1 == "app" && $2 == "heavy" && $4 == hi { s[$3] = s[$3] " " $5 }
    END { for (i in s) { m = median_of(s[i])
      printf "app, heavy, %s, c=%s: %.1f req/s = %.2f of raw ONNX Runtime'"'"'s best\n", i, hi, m, m / best } }' "$results"
fi

# The floor for p50 at c=1: the least one request can take in the app on this machine (its own preprocessing of the
# photo, then one bare ONNX Runtime run on every core, spinning or not, the faster; no HTTP), beside the best
# baseline's p50 at c=1. A floor above 0.8 of that p50 means no server built on this model and preprocessing reaches it.
if want app && [ "$(printf '%s\n' $SERVERS | grep -vc '^app$')" -gt 0 ]; then
  echo
  for model in $MODELS; do
    if [ "$model" = heavy ]; then package=$APP_DIR/models/fashion-resnet18/1; else package=$LIGHT_MODEL; fi
    for img in $IMAGES; do
      line=$("$bench" request-floor "$package" "$img" "$SECS") || die "request-floor failed for $model $(basename "$img")"
      floor=$(sed -n 's/.*floor_ms=\([0-9.]*\).*/\1/p' <<<"$line")
      awk -v m="$model" -v i="$(basename "$img")" -v lo="$lo" -v floor="$floor" -v line="$line" "$median_of"'
        $1 != "app" && $2 == m && $3 == i && $4 == lo { s[$1] = s[$1] " " $6 }
        END { best = 1e9; for (k in s) { m2 = median_of(s[k]); if (m2 < best) best = m2 }
              printf "floor of one request, %s, %s: %s; best baseline p50 at c=%s %.2f ms, floor / that = %.2f\n", m, i, line, lo, best, floor / best }' "$results"
    done
  done
fi

# Cold start: process start to the first successful prediction of the bundled model, interleaved runs.
#   floor: a bare ONNX Runtime program (load ResNet-18, one inference, exit);
#   serve: `FunctionApp serve` started by `first-prediction`, which POSTs the PNG photo every 2 ms from one process until
#          the answer is 200 (a shell loop starting a curl per attempt would spend a core on process starts meanwhile).
[ "$COLD_RUNS" -gt 0 ] || exit 0
now() { date +%s%N; }
first_png=$(printf '%s\n' $IMAGES | head -1)
#   serve, as shipped: with an empty optimized-model cache (a new folder each round), as on a new instance; the bundled
#          model loads from the prepared form the build shipped (it is then not saved to the cache, so every start of
#          the bundled model is this one);
#   serve from the cache: the prepared form off (OnnxRuntime:UsePreparedModels=false), the cache primed by one start
#          before the rounds: how a model without a prepared form (from blob storage) restarts on the same machine;
#   serve from the model file: the prepared form off and an empty cache, as a build that could not prepare its models
#          starts on a new instance;
#   worker: the Functions worker launched as the host launches it, against a stand-in for the host that takes its RPC
#           stream (Core Tools cannot run here), timed to its "Warmed up model" line, as shipped (empty cache); serve
#           timed the same way beside it.
# Every run names its cache folder, so that entries other runs left in the default one cannot change the result.
primed="$work/primed-cache"; rm -rf "$primed" "$work"/empty-cache-*
env ${APP_ENV:-} OnnxRuntime__UsePreparedModels=false OnnxRuntime__OptimizedModelCacheFolder="$primed" "$APP_DIR/FunctionApp" serve --urls http://127.0.0.1:5414 >"$work/cold-prime.log" 2>&1 & p=$!
wait_up http://127.0.0.1:5414/api/health/live && curl -s -o /dev/null --max-time 60 -H 'Content-Type: application/octet-stream' \
  --data-binary @"$first_png" http://127.0.0.1:5414/api/predict
for _ in $(seq 300); do grep -q "as optimized on this machine" "$work/cold-prime.log" && break; sleep 0.1; done
stop $p
grep -q "as optimized on this machine" "$work/cold-prime.log" || die "the priming start saved no optimized model: $work/cold-prime.log"
env ${APP_ENV:-} OnnxRuntime__OptimizedModelCacheFolder="$work/empty-cache-check" "$APP_DIR/FunctionApp" serve --urls http://127.0.0.1:5414 >"$work/cold-check.log" 2>&1 & p=$!
for _ in $(seq 300); do grep -q "Loaded model" "$work/cold-check.log" && break; sleep 0.1; done
stop $p
grep -q "from the prepared model shipped with the app" "$work/cold-check.log" || die "the published app did not load the prepared model: $work/cold-check.log"
first() { # first-prediction of serve with the given settings; prints milliseconds
  env ${APP_ENV:-} "$@" "$bench" first-prediction http://127.0.0.1:5414/api/predict "$first_png" "$APP_DIR/FunctionApp" serve --urls http://127.0.0.1:5414 2>"$work/cold.log" \
    || die "serve gave no successful prediction during the cold-start run: $work/cold.log"
}
floor=(); shipped=(); cached=(); from_file=(); worker=(); serve_warm=()
for i in $(seq "$COLD_RUNS"); do
  start=$(now); "$bench" ort-floor "$heavy_onnx" Input247 >/dev/null || die "the ONNX Runtime floor failed"; floor+=($(( ($(now) - start) / 1000000 )))
  ms=$(first OnnxRuntime__OptimizedModelCacheFolder="$work/empty-cache-s$i") || exit 2; shipped+=("$ms")
  ms=$(first OnnxRuntime__UsePreparedModels=false OnnxRuntime__OptimizedModelCacheFolder="$primed") || exit 2; cached+=("$ms")
  ms=$(first OnnxRuntime__UsePreparedModels=false OnnxRuntime__OptimizedModelCacheFolder="$work/empty-cache-f$i") || exit 2; from_file+=("$ms")
  ms=$(env ${APP_ENV:-} OnnxRuntime__OptimizedModelCacheFolder="$work/empty-cache-w$i" "$bench" worker-start "$APP_DIR/FunctionApp" worker 2>"$work/worker-start.log") || die "the worker did not warm its model: $work/worker-start.log"
  worker+=("$ms")
  ms=$(env ${APP_ENV:-} OnnxRuntime__OptimizedModelCacheFolder="$work/empty-cache-v$i" "$bench" worker-start "$APP_DIR/FunctionApp" serve 2>"$work/serve-start.log") || die "serve did not warm its model: $work/serve-start.log"
  serve_warm+=("$ms")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mf=$(median "${floor[@]}"); ms1=$(median "${shipped[@]}"); ms2=$(median "${cached[@]}"); ms3=$(median "${from_file[@]}"); mw=$(median "${worker[@]}"); msw=$(median "${serve_warm[@]}")
ratio() { awk -v a="$1" -v b="$mf" 'BEGIN {printf "%.2f", a/b}'; }
echo
echo "cold start, median of $COLD_RUNS (ms): ONNX Runtime floor $mf [${floor[*]}]"
echo "  serve as shipped (empty cache, the prepared model): $ms1 [${shipped[*]}] = $(ratio "$ms1")x the floor"
echo "  serve from the optimized-model cache: $ms2 [${cached[*]}] = $(ratio "$ms2")x the floor"
echo "  serve from the model file (no prepared model, empty cache): $ms3 [${from_file[*]}] = $(ratio "$ms3")x the floor"
echo "start to a warm model, as shipped, median of $COLD_RUNS (ms): worker (stand-in host) $mw [${worker[*]}] = $(ratio "$mw")x the floor, serve $msw [${serve_warm[*]}]"
