#!/usr/bin/env bash
# Latency-aware UARA against every P1 back-end on every shipped instance (issue 24; results/latency_aware).
# Four resumable comparisons (uara compare), then bench/latency_aware.py merges them into table.md and
# summary.json. latency-search runs with a budget of event simulations (max_calls), not a time limit, so a
# rerun gives the same decisions on any machine; the P1 back-ends run under --time-limit 60 as in the paper's
# campaign. Wall time and machine: results/latency_aware/README.md.
set -euo pipefail
OUT=${OUT:-results/latency_aware}
INST=$(ls instances/*.json)
python3 -m uara compare $INST --solvers random,max-sinr,max-compute,tma,masac,masac-uara,relax,exact --time-limit 60 \
  --workers 1 --output "$OUT/p1" --quiet
python3 -m uara compare $INST --solvers latency-search --option latency-search:max_calls=30 \
  --option latency-search:slot_time_s=600 --workers 1 --output "$OUT/search" --quiet
python3 -m uara compare $INST --solvers latency-search --option latency-search:max_calls=30 \
  --option latency-search:slot_time_s=600 --option latency-search:draft_lengths=4 --workers 1 \
  --output "$OUT/fixed_length" --quiet
python3 -m uara compare $INST --solvers tkslt-length --workers 1 --output "$OUT/tkslt" --quiet
python3 bench/latency_aware.py "$OUT"
