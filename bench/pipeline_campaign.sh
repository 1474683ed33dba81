#!/usr/bin/env bash
# The pipelined-serving paper's comparisons (Zhu et al., arXiv 2510.11331), recomputed -> results/pipeline/.
#
#   bash bench/pipeline_campaign.sh                  # defaults below
#   USERS="10 50" SEEDS_BUILD="1 2" bash bench/pipeline_campaign.sh
#
# Instances: K users around one SBS, 3GPP UMi channels (sionna-umi) with build seeds SEEDS_BUILD, plus
# Sionna RT on the etoile scene (seed 1) at RT_USERS; GPT2 drafts on an RTX 2080 (SBS), GPT2-XL verifies
# on an RTX 4090 (MBS); tasks and acceptance from the shipped PSD profiles (docs/pipeline.md).
# Methods: pipeline-dp, the benchmarks (uniform allocation, AD serving) and the ablations (max batching,
# DP with uniform bandwidth, fixed speculation length, no micro-batch overlap). Reruns resume.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-results/pipeline}
USERS=${USERS:-"5 10 20 50 100 200"}
SEEDS_BUILD=${SEEDS_BUILD:-"1 2 3"}
RT_USERS=${RT_USERS:-"20 50"}
INST="$OUT/instances"
mkdir -p "$INST"

start=$(date +%s)
for k in $USERS; do
  for s in $SEEDS_BUILD; do
    f="$INST/k${k}_umi_s${s}.json"
    [ -f "$f" ] || uara build --problem pipeline --users "$k" --channel sionna-umi --seed "$s" --name "k${k}_umi_s${s}" -O "$f"
  done
done
for k in $RT_USERS; do
  f="$INST/k${k}_rt_etoile_s1.json"
  [ -f "$f" ] || uara build --problem pipeline --users "$k" --channel sionna-rt --scene etoile --seed 1 \
    --name "k${k}_rt_etoile_s1" -O "$f"
done
built=$(date +%s)
uara compare "$INST" -O "$OUT" -q
compared=$(date +%s)
uara report "$OUT" --title "Pipelined serving: the paper's comparisons on UMi and ray-traced channels"
python bench/pipeline_claims.py "$OUT"
end=$(date +%s)
echo "builds $((built - start)) s, runs $((compared - built)) s, report and claims $((end - compared)) s"
