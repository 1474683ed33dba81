#!/usr/bin/env bash
# The paper's claims, recomputed on credible scenarios -> results/paper/ (issue 13's protocol).
#
#   bash bench/paper_campaign.sh                 # defaults below
#   BUILDS=3 TIME_LIMIT=5 bash bench/paper_campaign.sh
#
# Scenarios: the Fig. 5 grid (M = 30..180 at E = 8; E = 4..20 at M = 60), BUILDS builds per point: build 0
# is the shipped Sionna RT instance (etoile), builds 1..BUILDS-1 are 3GPP UMi (sionna-umi) builds with
# seeds 1..BUILDS-1 (ray tracing all of them would take ~5 h of CPU; the README says which is which).
# Methods: the three baselines with uniform shares and with the exact allocation, TMA, TMA-MASAC as the paper
# runs it (masac), uara's variant of it (masac-uara), the certified back-ends relax and price, and latency-aware
# UARA (latency-search, with a budget of SEARCH_CALLS event simulations per slot instead of the time limit, so
# that its decisions do not depend on the machine's speed). Then the energy-weight sweep under both energy models (Fig. 6),
# the claims (bench/paper_claims.py) and the report. Reruns resume: finished runs are not redone.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-results/paper}
BUILDS=${BUILDS:-5}
SEEDS=${SEEDS:-0}
TIME_LIMIT=${TIME_LIMIT:-10}
WORKERS=${WORKERS:-2}
SOLVERS=${SOLVERS:-random,random+exact,max-sinr,max-sinr+exact,max-compute,max-compute+exact,tma,masac,masac-uara,relax,price}
SWEEP_SOLVERS=${SWEEP_SOLVERS:-random,max-sinr,max-compute,tma,masac,masac-uara}
SEARCH_CALLS=${SEARCH_CALLS:-4}
POINTS=${POINTS:-"30x8 60x8 90x8 120x8 150x8 180x8 60x4 60x12 60x16 60x20"}
export UARA_CACHE_DIR=${UARA_CACHE_DIR:-.uara-cache}
INST="$OUT/instances"
mkdir -p "$INST"

start=$(date +%s)
for p in $POINTS; do
  m=${p%x*}; e=${p#*x}
  rel=$(python -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "instances/m${m}_e${e}.json" "$INST")
  ln -sf "$rel" "$INST/m${m}_e${e}_b0.json"   # build 0: the shipped Sionna RT instance
  for ((b = 1; b < BUILDS; b++)); do
    f="$INST/m${m}_e${e}_b${b}.json"
    [ -f "$f" ] || uara build -m "$m" -e "$e" -t 10 --channel sionna-umi --seed "$b" --name "m${m}_e${e}_b${b}" \
      --out "$f" -q
  done
done
built=$(date +%s)

# --no-bounds: the certified gaps are against the best bound the relax and price runs themselves prove
# (a separate unlimited relax bound per instance would cost ~40 s x 50 instances, sequentially).
CMD1=(uara compare "$INST" --solvers "$SOLVERS" --seeds "$SEEDS" --time-limit "$TIME_LIMIT" --workers "$WORKERS"
      --no-bounds --output "$OUT")
CMD2=(uara compare instances/m60_e8.json --solvers "$SWEEP_SOLVERS" --seeds "$SEEDS" --time-limit "$TIME_LIMIT"
      --param energy_weight=20,40,60,80,100 --param energy_model=paper,physical --workers "$WORKERS" --no-bounds
      --output "$OUT")
CMD1b=(uara compare "$INST" --solvers latency-search --option "latency-search:max_calls=$SEARCH_CALLS"
       --option latency-search:slot_time_s=600 --seeds "$SEEDS" --workers "$WORKERS" --no-bounds --output "$OUT")
CMD3=(python bench/paper_claims.py "$OUT" --output "$OUT/claims.json" --builds-per-point "$BUILDS")
CMD4=(uara report "$OUT" --title "The paper's claims on credible scenarios (uara $(python -c 'import uara; print(uara.__version__)'), $(git rev-parse --short HEAD))")
{
  echo "# made by bench/paper_campaign.sh at $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, commit $(git rev-parse --short HEAD)"
  echo "# builds: BUILDS=$BUILDS per point (b0 = shipped Sionna RT; b1.. = sionna-umi seeds 1..)"
  printf '%q ' "${CMD1[@]}"; echo
  printf '%q ' "${CMD1b[@]}"; echo
  printf '%q ' "${CMD2[@]}"; echo
  printf '%q ' "${CMD3[@]}"; echo
  printf '%q ' "${CMD4[@]}"; echo
} > "$OUT/COMMAND.sh"

"${CMD1[@]}" --quiet || echo "comparison finished with error rows (see the report)"
"${CMD1b[@]}" --quiet || echo "latency-aware comparison finished with error rows (see the report)"
"${CMD2[@]}" --quiet || echo "sweep finished with error rows (see the report)"
"${CMD3[@]}"
"${CMD4[@]}"
end=$(date +%s)
echo "builds $((built - start)) s, campaign $((end - built)) s on $(nproc) cores" | tee "$OUT/WALL_TIME.txt"
