#!/usr/bin/env bash
# Reference comparison on the shipped instances -> results/reference/ (table, report, commands, discussion).
#
#   bash bench/reference_comparison.sh            # defaults below; ~10 min on 2 cores
#   TIME_LIMIT=60 SEEDS=0,1,2 bash bench/reference_comparison.sh
#
# Two grids go into one folder (the table holds every run stored there):
#   1. every shipped instance x every method, instance parameters as shipped (Fig. 5, gaps, runtime, reductions);
#   2. the energy-weight sweep w = 20..100 on m60_e8 under both energy models (Fig. 6).
# Reruns resume: finished runs are not redone. Solvers that are not installed are skipped and listed in the report.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-results/reference}
SOLVERS=${SOLVERS:-random,max-sinr,max-compute,tma,masac,relax,exact,price}
SWEEP_SOLVERS=${SWEEP_SOLVERS:-random,max-sinr,max-compute,tma,masac}
SEEDS=${SEEDS:-0,1}
TIME_LIMIT=${TIME_LIMIT:-20}
WORKERS=${WORKERS:-2}
SWEEP_INSTANCE=${SWEEP_INSTANCE:-instances/m60_e8.json}
export UARA_CACHE_DIR=${UARA_CACHE_DIR:-.uara-cache}

mkdir -p "$OUT"
CMD1=(uara compare instances/ --solvers "$SOLVERS" --seeds "$SEEDS" --time-limit "$TIME_LIMIT"
      --bound-time-limit "$TIME_LIMIT" --workers "$WORKERS" --output "$OUT")
CMD2=(uara compare "$SWEEP_INSTANCE" --solvers "$SWEEP_SOLVERS" --seeds "$SEEDS" --time-limit "$TIME_LIMIT"
      --param energy_weight=20,40,60,80,100 --param energy_model=paper,physical --workers "$WORKERS" --output "$OUT")
CMD3=(uara report "$OUT" --title "Reference comparison (uara $(python -c 'import uara; print(uara.__version__)'), $(git rev-parse --short HEAD))")
{
  echo "# made by bench/reference_comparison.sh at $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, commit $(git rev-parse --short HEAD)"
  printf '%q ' "${CMD1[@]}"; echo
  printf '%q ' "${CMD2[@]}"; echo
  printf '%q ' "${CMD3[@]}"; echo
} > "$OUT/COMMAND.sh"

start=$(date +%s)
"${CMD1[@]}" --quiet || echo "comparison finished with error rows (see the report)"
if [ -f "$SWEEP_INSTANCE" ]; then
  "${CMD2[@]}" --quiet || echo "sweep finished with error rows (see the report)"
fi
"${CMD3[@]}"
echo "wall time $(( $(date +%s) - start )) s; results in $OUT (discussion: $OUT/DISCUSSION.md)"
