#!/usr/bin/env bash
# Record a `paper`-settings run of the current code in one short GPU session (issue 13, item 4).
#
# Trains the paper's networks at the paper's settings (224 px, 5 epochs, batch 64, Adam 5e-4, augmentation on
# the device) on every Algorithm 2 training pair of a synthetic dataset, evaluates each with a threshold fitted
# on the validation drugs (intervals as this code's `drugsim evaluate` computes them), times the input paths, and records it
# all with `drugsim record NAME` (results/recorded/NAME: results, commit, machine, command, timings).
#
#   benchmarks/record_paper_gpu.sh gpu-paper-$(git rev-parse --short HEAD)          # on the GPU machine
#   DEVICE=cpu PRESET=tiny EXTRA="--epochs 1 --image-size 32 --n-train-pairs 64" \
#       BENCH="--size 32 --images 16 --batch-size 8 --batches 1" \
#       benchmarks/record_paper_gpu.sh toy-check                                     # the same path, CPU, toy size
#
# Environment: PY (python with drugsim, default python), DEVICE (cuda), PRESET (quick), EXTRA (more train
# options), BENCH (bench_input.py options, default 20 batches of 64 at 224 px), MODELS (space-separated variant:backbone:weights, default the three of the 8464a8d recording),
# OUT (work folder, default runs/record-NAME), DEST (record folder root, default results/recorded).
set -euo pipefail
SECONDS=0
NAME=${1:?usage: record_paper_gpu.sh NAME}
PY=${PY:-python}
DEVICE=${DEVICE:-cuda}
PRESET=${PRESET:-quick}
EXTRA=${EXTRA:-}
BENCH=${BENCH:-"--batches 20"}
MODELS=${MODELS:-"improved:resnet18:random classic:resnet18:random improved:efficientnet-lite0:imagenet"}
OUT=${OUT:-runs/record-$NAME}
DEST=${DEST:-}
WORKERS=$(( $(nproc) > 2 ? $(nproc) - 2 : 0 ))

mkdir -p "$OUT/results"
[ -d "$OUT/data" ] || $PY -m drugsim data synth --preset "$PRESET" --seed 0 --out "$OUT/data"
for model in $MODELS; do
    IFS=: read -r variant backbone weights <<< "$model"
    tag="syn_${backbone}_${variant}"
    # shellcheck disable=SC2086  # EXTRA holds several options
    $PY -m drugsim train siamese --variant "$variant" --backbone "$backbone" --weights "$weights" --profile paper \
        --device "$DEVICE" --workers "$WORKERS" --data "$OUT/data" --out "$OUT/$tag.pt" \
        --json "$OUT/results/${tag}_train.json" --quiet $EXTRA
    $PY -m drugsim evaluate --data "$OUT/data" --method "siamese-$variant" --model "$OUT/$tag.pt" \
        --threshold-rule max_accuracy --n-boot 200 --json "$OUT/results/${tag}_eval.json" --quiet
done
# shellcheck disable=SC2086  # BENCH holds several options
$PY benchmarks/bench_input.py --data "$OUT/data" --device "$DEVICE" $BENCH \
    --json "$OUT/results/input_bench.json" > /dev/null
$PY -m drugsim record "$NAME" --results "$OUT/results" ${DEST:+--dest "$DEST"} --force --seconds "$SECONDS" \
    --command "DEVICE=$DEVICE PRESET=$PRESET EXTRA='$EXTRA' MODELS='$MODELS' $0 $NAME"
echo "recorded $NAME; write its README.md (what, where, protocol) before committing"
