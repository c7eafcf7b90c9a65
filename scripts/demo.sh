#!/usr/bin/env bash
# The offline job on its defaults: generate the seeded 60-day cell data set, score its test half with the
# shipped default model, and evaluate against the labels with plots. Under a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
npx cellwatch generate --out "$out/data"
npx cellwatch score --model models/cell-context.onnx --input "$out/data/test.csv" --output "$out/scores.csv"
npx cellwatch eval --scores "$out/scores.csv" --labels "$out/data/test_labels.csv" --plots "$out/plots"
