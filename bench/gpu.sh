#!/usr/bin/env bash
# The prepared GPU check (issue 29): on a CUDA device, the contract matrix, each family's epoch against its plain loop,
# the fastbook fit against stock fastai and `to_fp16` on every arch, in under 8 minutes on one H100. Run it the first
# time a task is lent a device; it records the figures with the device named.
#
#   bash bench/gpu.sh                  # CUDA: results in ${OUT:-bench/results/gpu}
#   bash bench/gpu.sh --cpu-smoke      # every code path on the CPU, tiny data, results in a temporary folder
#   bash bench/gpu.sh --stage          # HERE, before a device call: copy the data and the pure-Python packages the
#                                      # device image lacks (fastai, ...) into build/gpu (git-ignored); then the call:
#     run(command="bash bench/gpu.sh", carry=["build/gpu"], timeout_s=600)
#
# Options (or the environment variables beside them): --device D (DEVICE, default cuda), --quick (QUICK=1),
# --out DIR (OUT), --steps a,b (STEPS: facts,contract,families,fastbook,fp16,summary), --archs a,b (ARCHS: the
# contract's and fp16's archs), DEADLINE=seconds for all the steps (default 540 on CUDA), TIMEOUT_<STEP>=seconds.
# Each step runs under its own `timeout`; a failing step does not stop the others; SUMMARY.md ends the run. The
# figures are report rows (bench/report.py) whose `machine` and data name the device; at most 8 files in the folder.
set -u
{ # one compound command: bash reads the whole script before running it (safe to edit while it runs)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICE=${DEVICE:-cuda}; QUICK=${QUICK:-}; STEPS=${STEPS:-facts,contract,families,fastbook,fp16,summary}
ARCHS=${ARCHS:-}; SMOKE=; STAGE=
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke) SMOKE=1; DEVICE=cpu; QUICK=1 ;;
    --device) DEVICE=$2; shift ;;
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    --steps) STEPS=$2; shift ;;
    --archs) ARCHS=$2; shift ;;
    --stage) STAGE=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# ---- python: the repository's .venv here, the image's python3 on the device ----
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi

# ---- --stage: what the device machine lacks, into build/gpu (ignored by git; name it in the run's `carry`) ----
STAGED=$ROOT/build/gpu
if [ -n "$STAGE" ]; then
  mkdir -p "$STAGED/data" "$STAGED/site"
  DATA=$($PY -c "import sys; sys.path.insert(0, '.'); from bench import report; from fastai.data.external import \
fastai_path; print(fastai_path('data'))" 2>/dev/null | tail -1)
  for d in ml-100k mnist; do
    [ -e "$DATA/$d" ] || { echo "gpu.sh --stage: no $DATA/$d" >&2; exit 1; }
    rm -rf "${STAGED:?}/data/$d"; cp -rL "$DATA/$d" "$STAGED/data/$d"
  done
  # pure-Python distributions recfast imports that the device image does not hold (its KINDS.md package list);
  # compiled modules are left out (plum falls back to its .py sources)
  $PY - "$STAGED/site" <<'EOF' || exit 1
import sys, shutil, importlib.metadata as md
from pathlib import Path
dest = Path(sys.argv[1])
need = ['fastai', 'fastcore', 'fastdownload', 'fastprogress', 'fasttransform', 'plum-dispatch', 'beartype', 'optuna',
        'optuna-integration', 'colorlog', 'python-fasthtml', 'itsdangerous', 'python-multipart', 'starlette',
        'PySocks', 'sniffio']
for n in need:
    d = md.distribution(n)
    tops = {Path(str(f)).parts[0] for f in d.files if not str(f).endswith('.so') and '..' not in str(f)
            and not Path(str(f)).parts[0].endswith(('.dist-info', '__pycache__')) and not str(f).startswith('bin')}
    for t in sorted(tops):
        src = Path(d.locate_file(t))
        if src.is_dir():
            shutil.rmtree(dest/t, ignore_errors=True)
            shutil.copytree(src, dest/t, ignore=shutil.ignore_patterns('__pycache__', '*.so', '*.pyc'))
        elif src.suffix=='.py': shutil.copy2(src, dest/t)
    meta = dest/f"{d.metadata['Name'].replace('-', '_')}-{d.version}.dist-info"  # for importlib.metadata.version
    meta.mkdir(exist_ok=True); (meta/'METADATA').write_text(f"Metadata-Version: 2.1\nName: {d.metadata['Name']}\n"
                                                           f"Version: {d.version}\n")
    print(f"staged {n} {d.version}: {', '.join(sorted(tops))}")
EOF
  echo "staged into $STAGED ($(du -sh "$STAGED" | cut -f1)); run on the device:"
  echo "  run(command=\"bash bench/gpu.sh\", carry=[\"build/gpu\"], timeout_s=600)"
  exit 0
fi

# ---- environment ----
if [ -n "$SMOKE" ] && [ -z "${OUT:-}" ]; then OUT=$(mktemp -d /tmp/recfast_gpu_smoke.XXXXXX); fi
OUT=${OUT:-bench/results/gpu}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} MPLBACKEND=Agg PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
if ! $PY -c 'import fastai' 2>/dev/null && [ -d "$STAGED/site" ]; then export PYTHONPATH=$PYTHONPATH:$STAGED/site; fi
if [ -z "${FASTAI_HOME:-}" ] && [ -e "$STAGED/data/ml-100k/u.data" ]; then export FASTAI_HOME=$STAGED; fi
Q=${QUICK:+--quick}
# the CPU smoke run: slower steps on tiny data, so 3x the steps' timeouts (TIMEOUT_<STEP> is taken as given)
if [ "$DEVICE" = cpu ]; then DEADLINE=${DEADLINE:-1500}; SCALE=3; else DEADLINE=${DEADLINE:-540}; SCALE=1; fi
LOG=$OUT/gpu.log; STATUS=$(mktemp); : >"$LOG"
T0=$(date +%s)

# run_step NAME TIMEOUT CMD...: the step under `timeout` (never past DEADLINE less 20 s for the summary), its output to
# the terminal and gpu.log (and its stdout to file $CAPTURE if set), one status line
FAILED=0
run_step() {
  local name=$1 t=$2; shift 2
  case ",$STEPS," in *",$name,"*) ;; *) return 0 ;; esac
  local var=TIMEOUT_$(echo "$name" | tr a-z A-Z); t=${!var:-$(( t * SCALE ))}
  local left=$(( DEADLINE - ($(date +%s) - T0) - 20 ))
  [ "$name" = summary ] && left=$(( left + 20 ))
  if [ "$left" -lt 5 ]; then
    printf '%s\tSKIPPED (deadline %ss reached)\t0\n' "$name" "$DEADLINE" >>"$STATUS"
    echo "== $name: skipped, the deadline of ${DEADLINE}s is reached" | tee -a "$LOG"; FAILED=1; return 0
  fi
  [ "$t" -gt "$left" ] && t=$left
  echo "== $name (timeout ${t}s): $*" | tee -a "$LOG"
  local s=$(date +%s) rcf; rcf=$(mktemp)
  if [ -n "${CAPTURE:-}" ]; then  # its stdout kept in file CAPTURE too (stderr to the log only)
    { timeout -k 10 "$t" "$@" 2>>"$LOG" | tee "$CAPTURE"; echo "${PIPESTATUS[0]}" >"$rcf"; } | tee -a "$LOG"
  else { timeout -k 10 "$t" "$@" 2>&1; echo $? >"$rcf"; } | tee -a "$LOG"; fi
  local rc; rc=$(cat "$rcf"); rm -f "$rcf"
  local secs=$(( $(date +%s) - s )) st=ok
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then st="TIMEOUT after ${t}s (rc $rc)"; FAILED=1
  elif [ "$rc" != 0 ]; then st="FAILED (rc $rc)"; FAILED=1; fi
  printf '%s\t%s\t%s\n' "$name" "$st" "$secs" >>"$STATUS"
  echo "== $name: $st in ${secs}s" | tee -a "$LOG"
}

echo "recfast GPU check: device $DEVICE${QUICK:+ (quick)}, results in $OUT, deadline ${DEADLINE}s"
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee -a "$LOG"
CAPTURE=$OUT/device.txt run_step facts 60 $PY bench/bench_gpu.py --part facts --device "$DEVICE" $Q --out "$OUT"
run_step contract 150 $PY bench/bench_gpu.py --part contract --device "$DEVICE" $Q --out "$OUT" ${ARCHS:+--archs $ARCHS}
run_step families 150 env BENCH_RESULTS="$OUT" $PY bench/bench_families.py --device "$DEVICE" --repeats 2 $Q
run_step fastbook 120 $PY bench/bench_gpu.py --part fastbook --device "$DEVICE" $Q --out "$OUT"
run_step fp16 90 $PY bench/bench_gpu.py --part fp16 --device "$DEVICE" $Q --out "$OUT" ${ARCHS:+--archs $ARCHS}
CAPTURE=$OUT/SUMMARY.md run_step summary 30 $PY bench/bench_gpu.py --part summary --device cpu --out "$OUT" \
  --steps "$STATUS"
if [ ! -s "$OUT/SUMMARY.md" ] || ! grep -q "^## Steps" "$OUT/SUMMARY.md"; then  # python could not: the statuses
  { echo "# GPU check (bench/gpu.sh): step statuses"; echo; cat "$OUT/device.txt" 2>/dev/null; echo
    awk -F'\t' '{print "- " $1 ": " $2 " (" $3 " s)"}' "$STATUS"; } >"$OUT/SUMMARY.md"
fi
echo; echo "== steps (total $(( $(date +%s) - T0 ))s, device $DEVICE):"
awk -F'\t' '{printf "  %-10s %-40s %5s s\n", $1, $2, $3}' "$STATUS"
echo "results: $OUT ($(ls "$OUT" | tr '\n' ' '))"
rm -f "$STATUS"
exit $FAILED
}
