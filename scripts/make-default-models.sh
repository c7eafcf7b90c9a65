#!/usr/bin/env bash
# Rebuild models/ from the generator: the default (context) model and the field-method baseline, both
# trained on the training half of the seeded default data set. SOURCE_DATE_EPOCH pins the creation time
# in the metadata so the files come out byte for byte the same on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600} # 2026-01-01T00:00:00Z
data=out/default-data
npx cellwatch generate --out "$data"
for variant in context field; do
  npx cellwatch train --variant "$variant" --input "$data/train.csv" --maintenance "$data/train_labels.csv" \
    --output "models/cell-$variant.onnx" --model-id "cell-$variant" --seed 1
done
sha256sum models/*.onnx
