#!/usr/bin/env bash
# P1 by its terms (issue 24): how well I - C, its latency part and its energy part order six methods as the
# batched server's simulated latency does, under the paper's weights and under the `latency-scale` set.
#
#   bash bench/p1_terms.sh            # -> results/p1_terms/
#
# Two comparisons of the same instances and methods (bounds skipped: only the ordering is asked), then
# bench/p1_terms.py writes terms.json and prints the tables. Reruns resume.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/p1_terms}
INST=${INST:-"instances/m30_e8.json instances/m60_e8.json instances/m120_e8.json instances/m60_e20.json"}
SOLVERS=${SOLVERS:-random,max-sinr,max-compute,tma,masac,relax}
start=$(date +%s)
uara compare $INST -s "$SOLVERS" --no-bounds -O "$OUT/paper_weights" -q
uara compare $INST -s "$SOLVERS" --no-bounds --param lambda=1e-6 --param energy_weight=0.25 -O "$OUT/latency_scale" -q
python bench/p1_terms.py "$OUT"
echo "wall $(( $(date +%s) - start )) s"
