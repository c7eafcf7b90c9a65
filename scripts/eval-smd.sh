#!/usr/bin/env bash
# Train, score and evaluate both model variants on one SMD machine (default machine-1-6).
# Needs ../shared/data/smd (or SMD_DIR); writes to out/smd. Prints the evaluation reports.
set -euo pipefail
cd "$(dirname "$0")/.."
machine=${1:-machine-1-6}
smd=${SMD_DIR:-../shared/data/smd}
out=out/smd
if [ ! -f "$smd/${machine}_train.csv.gz" ]; then
  echo "no SMD data at $smd; skipping" >&2
  exit 0
fi
npx tsx scripts/smd-to-csv.ts "$smd" "$machine" "$out"
for variant in field context; do
  echo "== $machine, variant $variant"
  # SMD rows carry no real time (row i is start + i minutes), so calendar context is left out.
  npx cellwatch train --variant "$variant" --input "$out/${machine}_train.csv" \
    --output "$out/${machine}-$variant.onnx" --time-features none --seasonality none
  npx cellwatch score --model "$out/${machine}-$variant.onnx" --input "$out/${machine}_test.csv" \
    --output "$out/${machine}-$variant-scores.csv"
  npx cellwatch eval --scores "$out/${machine}-$variant-scores.csv" --labels "$out/${machine}_test_labels.csv" \
    --plots "$out/${machine}-$variant-plots" --report "$out/${machine}-$variant-eval.json"
done
