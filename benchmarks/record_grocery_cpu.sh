#!/usr/bin/env bash
# The CPU transfer recipe on the Grocery Store photos (issue 13): train the improved Siamese network on an
# ImageNet EfficientNet-Lite0 by partial fine-tuning at 224 px, then evaluate it on the test products with a
# threshold fitted on the validation products. Recorded as results/recorded/cpu-grocery-partial224-58a8cd2.
#   usage: bash benchmarks/record_grocery_cpu.sh OUT_DIR    (DRUGSIM_GROCERY_ROOT = the photos)
# Then: drugsim record NAME --results OUT_DIR --command "..." --seconds S   (S = this script's wall time)
set -euo pipefail
OUT=${1:?usage: record_grocery_cpu.sh OUT_DIR}
mkdir -p "$OUT"
drugsim train siamese --variant improved --backbone efficientnet-lite0 --weights imagenet --profile quick \
    --train partial --image-size 224 --epochs 3 --n-train-pairs 6000 --data grocery \
    --out "$OUT/model.pt" --json "$OUT/gro_lite0_partial224_train.json" --quiet
drugsim evaluate --data grocery --method siamese-improved --model "$OUT/model.pt" \
    --threshold-rule max_accuracy --n-boot 1000 --jobs 1 --json "$OUT/gro_lite0_partial224_eval.json" --quiet
