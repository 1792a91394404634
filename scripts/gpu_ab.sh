#!/usr/bin/env bash
# Two variants of the GPU recipe side by side in one device command (an A/B): scripts/gpu_run.sh
# twice at once, sharing the GPU and the cores, each with half the loader workers and half the
# evaluation processes (2 threads each: 4 threads each overbooked 16 cores and ran the evaluation
# out of time, docs/gpu.md). Each variant's 7 files come back packed as OUT_DIR/a.tgz and b.tgz.
#
#   run(command="bash scripts/gpu_ab.sh $OUT 'seed=41' 'lr_g=1.0e-4'", carry=[".gpu"], timeout_s=600)
#
# usage: bash scripts/gpu_ab.sh OUT_DIR "A_OVERRIDES" "B_OVERRIDES"
#   A_OVERRIDES, B_OVERRIDES: space-separated key=value training overrides of each variant, after
#   this script's defaults (steps=2200 max_minutes=6.3 workers=W seed=41 / 42; W = (cores - 2) / 2):
#   about 2,100 steps each in 6.3 minutes on the H200 (docs/gpu.md).
# environment: as scripts/gpu_run.sh; GPU_RUN_EVAL_PROCS (default cores / 4), GPU_RUN_EVAL_RESERVE_S
#   (default 125) and GPU_RUN_BUDGET_S (default 565) apply to both variants.
# Exit status: 0 when both variants' weights and evaluation summaries are there.
set -uo pipefail

if [ $# -ne 3 ]; then
    echo "usage: bash scripts/gpu_ab.sh OUT_DIR \"A_OVERRIDES\" \"B_OVERRIDES\"" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
OUT_DIR=$(cd "$1" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cores=$(nproc 2>/dev/null || echo 4)
workers=$(( (cores - 2) / 2 > 0 ? (cores - 2) / 2 : 0 ))
export GPU_RUN_EVAL_PROCS=${GPU_RUN_EVAL_PROCS:-$(( cores / 4 > 0 ? cores / 4 : 1 ))}
export GPU_RUN_EVAL_RESERVE_S=${GPU_RUN_EVAL_RESERVE_S:-125}
export GPU_RUN_BUDGET_S=${GPU_RUN_BUDGET_S:-565}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_ab.XXXXXX")

read -r -a over_a <<< "$2"
read -r -a over_b <<< "$3"
echo "[gpu_ab] A: $2"
echo "[gpu_ab] B: $3"
echo "[gpu_ab] $workers loader workers and $GPU_RUN_EVAL_PROCS evaluation processes each, work $WORK"
GPU_RUN_WORK="$WORK/work_a" bash "$REPO/scripts/gpu_run.sh" "$WORK/a" steps=2200 max_minutes=6.3 \
    "workers=$workers" seed=41 "${over_a[@]}" > "$WORK/a.out" 2>&1 &
pid_a=$!
GPU_RUN_WORK="$WORK/work_b" bash "$REPO/scripts/gpu_run.sh" "$WORK/b" steps=2200 max_minutes=6.3 \
    "workers=$workers" seed=42 "${over_b[@]}" > "$WORK/b.out" 2>&1 &
pid_b=$!
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?

for v in a b; do
    tar czf "$OUT_DIR/$v.tgz" -C "$WORK" "$v"
    echo "== $v (exit status $([ "$v" = a ] && echo "$rc_a" || echo "$rc_b")): $([ "$v" = a ] && echo "$2" || echo "$3")"
    # the headline table and the last step's rate, from gpu_run.sh's own log
    sed -n '/^| /p;/^last step/p;/^\[gpu_run .*\] \(error\|warning\|eval part\)/p' "$WORK/$v/run.log" 2>/dev/null | head -n 20
done
ls -la "$OUT_DIR"
[ "$rc_a" -eq 0 ] && [ "$rc_b" -eq 0 ]
