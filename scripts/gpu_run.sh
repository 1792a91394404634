#!/usr/bin/env bash
# One command for a lent GPU machine: fine-tune the shipped default with configs/gpu-8min.yaml for a
# fixed wall-clock budget, evaluate it against the default on the held-out scenes, and leave the
# results in OUT_DIR. See docs/gpu.md.
#
# 1. Here, on the CPU machine, once (writes the ignored folder .gpu/: scenes at <= 512 px, the EMoR
#    curves, the OpenEXR wheel for the device's Python 3.12; prints the size of what travels):
#        .venv/bin/python scripts/gpu_prepare.py
# 2. The device call (one H200, at most 10 minutes a command):
#        run(command="bash scripts/gpu_run.sh $OUT", carry=[".gpu"], timeout_s=600)
#
# usage: bash scripts/gpu_run.sh OUT_DIR [key=value ...]
#   key=value: training overrides (after the config's and this script's own), e.g. for the CPU
#   rehearsal (tests/test_gpu_recipe.py): steps=3 max_minutes=0.2 device=cpu batch=2 pairs.crop=64
# environment (all optional):
#   PYTHON                  interpreter (default python3: the device's, with torch)
#   GPU_RUN_ROOT            what gpu_prepare.py wrote (default .gpu): ROOT/hdr, ROOT/crf/emor.txt, ROOT/whl
#   GPU_RUN_CONFIG          training config (default configs/gpu-8min.yaml)
#   GPU_RUN_OVERRIDES       more training overrides, space-separated key=value
#   GPU_RUN_SCENES          evaluation scenes (default holdout)
#   GPU_RUN_MAX_SIDE        evaluation long side, px (default 512)
#   GPU_RUN_EVAL_ARGS       more `reexpose eval` flags, e.g. "--clip 0.08"
#   GPU_RUN_EVAL_PROCS      parallel evaluation processes over disjoint scene sets (default: cores / 2)
#   GPU_RUN_EVAL_THREADS    torch threads of each (default: 2, or cores / processes if fewer; more threads
#                           help little and two runs side by side with 4 each overbooked 16 cores 2x: docs/gpu.md)
#   GPU_RUN_BUDGET_S        wall-clock seconds for the whole script (default 585; the device call has 600)
#   GPU_RUN_EVAL_RESERVE_S  seconds kept for the evaluation: training is stopped (SIGTERM: it saves
#                           and exports as at its end) if it would eat into them (default 90)
#   GPU_RUN_WORK            scratch folder for the run and eval folders (default: a new temporary one)
#
# OUT_DIR gets at most 7 flat files (the device returns 8, 16 MiB each): run.log (everything printed),
# model.safetensors (EMA weights), log.jsonl, config.yaml (the effective config), summary.md and
# summary.json (the evaluation), extras.tar.gz (per-scene eval JSONs, the 8% contact sheets, nvidia-smi
# samples, the data manifest). Exit status: 0 when the weights and the evaluation summary are there.
set -uo pipefail

if [ $# -lt 1 ]; then
    echo "usage: bash scripts/gpu_run.sh OUT_DIR [key=value ...]" >&2
    exit 2
fi
START=$(date +%s)
mkdir -p "$1" || exit 2
OUT_DIR=$(cd "$1" && pwd)
shift
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2

PY=${PYTHON:-python3}
ROOT=${GPU_RUN_ROOT:-.gpu}
CONFIG=${GPU_RUN_CONFIG:-configs/gpu-8min.yaml}
SCENES=${GPU_RUN_SCENES:-holdout}
MAX_SIDE=${GPU_RUN_MAX_SIDE:-512}
BUDGET=${GPU_RUN_BUDGET_S:-585}
RESERVE=${GPU_RUN_EVAL_RESERVE_S:-90}
WORK=${GPU_RUN_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_run.XXXXXX")}
mkdir -p "$WORK"
RUN="$WORK/run"
EVAL="$WORK/eval"
export PYTHONUNBUFFERED=1

exec > >(tee -a "$OUT_DIR/run.log") 2>&1
TEE_PID=$!
elapsed() { echo $(( $(date +%s) - START )); }
say() { echo "[gpu_run $(elapsed)s] $*"; }

say "repo $REPO, out $OUT_DIR, work $WORK, root $ROOT, config $CONFIG"
if [ ! -d "$ROOT/hdr" ]; then
    say "error: $ROOT/hdr not found: run scripts/gpu_prepare.py here first and carry .gpu (docs/gpu.md)"
    exit 2
fi

# -- wheels the device's Python lacks (OpenEXR), installed only where the import fails
if ! "$PY" -c "import OpenEXR" 2>/dev/null; then
    shopt -s nullglob
    wheels=("$ROOT"/whl/*.whl)
    shopt -u nullglob
    if [ ${#wheels[@]} -eq 0 ]; then
        say "error: OpenEXR is not importable and $ROOT/whl holds no wheels (gpu_prepare.py without --no-wheels)"
        exit 2
    fi
    SITE="$WORK/site"
    say "installing ${wheels[*]} into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "${wheels[@]}" || { say "error: wheel install failed"; exit 2; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# the package cannot be pip-installed there (it pins another torch): run it from src/
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'EOF'
import platform, sys
import numpy, torch
print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, numpy {numpy.__version__}, "
      f"cuda {torch.cuda.is_available()}" + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
EOF
df -h /dev/shm "$WORK" 2>/dev/null | sed 's/^/  /'  # the DataLoader's workers hand batches over in /dev/shm
SMI_PID=""
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 30 \
        > "$WORK/nvidia-smi.csv" 2>/dev/null &
    SMI_PID=$!
fi

# -- train (a SIGTERM from timeout makes the trainer stop, save and export as at its end)
overrides=("out=$RUN" "data=$ROOT/hdr")
if [ -f "$ROOT/crf/emor.txt" ]; then
    overrides+=("pairs.emor_path=$ROOT/crf/emor.txt")
else
    say "warning: no $ROOT/crf/emor.txt: training without the EMoR camera curves"
    overrides+=("pairs.emor_path=")
fi
read -r -a extra_env <<< "${GPU_RUN_OVERRIDES:-}"
train_limit=$(( BUDGET - RESERVE - $(elapsed) ))
[ "$train_limit" -lt 30 ] && train_limit=30
say "train: $CONFIG ${overrides[*]} ${extra_env[*]} $* (hard limit ${train_limit}s)"
timeout -s TERM -k 30 "$train_limit" "$PY" -m reexposure train --config "$CONFIG" --no-progress \
    "${overrides[@]}" "${extra_env[@]}" "$@"
train_rc=$?
[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null
say "train exit status $train_rc"
if [ "$train_rc" -eq 124 ]; then
    say "warning: training reached the hard limit and was stopped (its last export is used)"
fi

# -- evaluate the run's EMA weights against the shipped default: the scenes split over parallel
#    `reexpose eval` processes (its metrics are mostly single-threaded numpy), then merged into one
#    summary with the evaluation's own aggregate() and summary_markdown()
eval_rc=1
if [ -f "$RUN/model.safetensors" ]; then
    eval_limit=$(( BUDGET - $(elapsed) ))
    [ "$eval_limit" -lt 30 ] && eval_limit=30
    cores=$(nproc 2>/dev/null || echo 4)
    procs=${GPU_RUN_EVAL_PROCS:-$(( cores / 2 > 0 ? cores / 2 : 1 ))}
    per_proc=$(( cores / procs > 0 ? cores / procs : 1 ))
    threads=${GPU_RUN_EVAL_THREADS:-$(( per_proc < 2 ? per_proc : 2 ))}
    read -r -a eval_extra <<< "${GPU_RUN_EVAL_ARGS:-}"
    eval_args=(--data "$ROOT/hdr" --max-side "$MAX_SIDE" --threads "$threads" --no-progress --force
               --method "naive,ours=$RUN/model.safetensors,ours=src/reexposure/weights/default.safetensors"
               "${eval_extra[@]}")
    # the scene list, in file order, split round-robin into $procs groups (one line each)
    mapfile -t groups < <("$PY" - "$ROOT/hdr" "$SCENES" "$procs" <<'EOF'
import sys
from reexposure.formats.scenes import find_hdr_files, holdout_scenes
data, scenes, procs = sys.argv[1], sys.argv[2], int(sys.argv[3])
wanted = []
for s in (s.strip() for s in scenes.split(",") if s.strip()):
    wanted += list(holdout_scenes()) if s.lower() == "holdout" else [s]
stems = [p.stem for p in find_hdr_files(data)]
names = [s for s in stems if s in set(wanted)] + sorted(set(wanted) - set(stems))  # missing: eval says so
for k in range(max(1, min(procs, len(names)))):
    print(",".join(names[k::procs]))
EOF
)
    say "eval on $ROOT/hdr ($SCENES: ${#groups[@]} process(es) x $threads thread(s), long side $MAX_SIDE px, limit ${eval_limit}s)"
    t_eval=$(date +%s)
    if [ ${#groups[@]} -le 1 ]; then
        timeout -s TERM -k 10 "$eval_limit" "$PY" -m reexposure eval "${eval_args[@]}" --scenes "$SCENES" --out "$EVAL"
        eval_rc=$?
    else
        pids=()
        for k in "${!groups[@]}"; do
            timeout -s TERM -k 10 "$eval_limit" "$PY" -m reexposure eval "${eval_args[@]}" --scenes "${groups[$k]}" \
                --out "$EVAL/part$k" > "$WORK/eval_part$k.log" 2>&1 &
            pids+=($!)
        done
        eval_rc=0
        for k in "${!pids[@]}"; do
            wait "${pids[$k]}" || { eval_rc=$?; say "eval part $k failed:"; tail -n 5 "$WORK/eval_part$k.log"; }
        done
        if [ "$eval_rc" -eq 0 ]; then
            all_scenes=$(IFS=,; echo "${groups[*]}")
            "$PY" - "$EVAL" "$(( $(date +%s) - t_eval ))" "$threads" "${eval_args[@]}" --scenes "$all_scenes" \
                --out "$EVAL" <<'EOF'
import argparse, json, shutil, sys
from pathlib import Path
import torch
from reexposure.apps.cli import eval as cli_eval
from reexposure.eval import run as ev

out, seconds, threads, argv = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
parser = argparse.ArgumentParser()
cli_eval.register(parser.add_subparsers())
opts = cli_eval.options_from_args(parser.parse_args(["eval", *argv]))
parts = sorted(out.glob("part*"), key=lambda p: int(p.name[4:]))
docs = [json.loads((p / "summary.json").read_text()) for p in parts]
records = {}
for p in parts:
    for f in sorted((p / "images").glob("*.json")):
        records[f.stem] = json.loads(f.read_text())
        (out / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, out / "images" / f.name)
order = [s for s in opts.scenes if s in records]
cases = [{"scene": records[s]["scene"], "clip": c["target_share"], "methods": c["methods"]}
         for s in order for c in records[s]["clips"] if "methods" in c]
summary = ev.aggregate(cases)
labels, infos = docs[0]["methods"], docs[0]["method_info"]
sheets = []
for k, (p, d) in enumerate(zip(parts, docs)):
    for name in d.get("sheets", []):
        shutil.copyfile(p / name, out / f"part{k}_{name}")
        sheets.append(f"part{k}_{name}")
doc = {**docs[0], "command": opts.command(), "images": len(order), "cases": len(cases), "seconds": seconds,
       "means": summary, "sheets": sheets, "parallel": {"processes": len(parts), "threads": threads}}
doc.pop("sanity_check", None)
check = ev.sanity_check(summary)
if check is not None:
    doc["sanity_check"] = {"naive_beats_brightness_clipped_ev-2": check[0], "naive_db": check[1],
                           "brightness_db": check[2]}
torch.set_num_threads(threads)
md = ev.summary_markdown(summary, opts, labels, len(order), infos, seconds)
md += f"\n(Merged from {len(parts)} parallel `reexpose eval` processes of {threads} thread(s) over disjoint scene sets.)\n"
(out / "summary.json").write_text(json.dumps(ev._jsonable(doc), indent=1))
(out / "summary.md").write_text(md)
print(f"merged {len(parts)} parts: {len(order)} scenes, {len(cases)} cases -> {out / 'summary.md'}")
EOF
            eval_rc=$?
        fi
    fi
    say "eval exit status $eval_rc ($(( $(date +%s) - t_eval ))s)"
else
    say "error: no $RUN/model.safetensors: nothing to evaluate"
fi

# -- collect (flat, at most 7 files)
for f in model.safetensors log.jsonl config.yaml; do
    [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT_DIR/$f"
done
for f in summary.md summary.json; do
    [ -f "$EVAL/$f" ] && cp "$EVAL/$f" "$OUT_DIR/$f"
done
extras="$WORK/extras"
mkdir -p "$extras"
[ -d "$EVAL/images" ] && cp -r "$EVAL/images" "$extras/eval_images"
cp "$EVAL"/sheet_clip08.png "$EVAL"/part*_sheet_clip08.png "$extras/" 2>/dev/null  # the middle clip level
last_sheet=$(ls "$RUN"/sheet_*.png 2>/dev/null | tail -n 1)
[ -n "$last_sheet" ] && cp "$last_sheet" "$extras/train_$(basename "$last_sheet")"
[ -f "$WORK/nvidia-smi.csv" ] && cp "$WORK/nvidia-smi.csv" "$extras/"
[ -f "$ROOT/MANIFEST.json" ] && cp "$ROOT/MANIFEST.json" "$extras/data_MANIFEST.json"
tar czf "$OUT_DIR/extras.tar.gz" -C "$extras" .
if [ "$(stat -c %s "$OUT_DIR/extras.tar.gz")" -gt $(( 15 * 1024 * 1024 )) ]; then
    say "extras.tar.gz over 15 MiB: leaving the eval contact sheets out"
    rm -f "$extras"/sheet_clip*.png "$extras"/part*_sheet_clip*.png
    tar czf "$OUT_DIR/extras.tar.gz" -C "$extras" .
fi

if [ -f "$OUT_DIR/summary.md" ]; then
    sed -n '/^## Headline/,/^## Clip level/p' "$OUT_DIR/summary.md" | sed '$d'
fi
if [ -f "$OUT_DIR/log.jsonl" ]; then
    "$PY" - "$OUT_DIR/log.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
train = [r for r in rows if "g_rec" in r]
val = [r for r in rows if any(k.startswith("val_") for k in r)]
if train:
    r = train[-1]
    print(f"last step {r['step']} at {r.get('time', 0):.0f}s: g_rec {r['g_rec']:.4g}, "
          f"{r.get('samples_per_s', 0):.0f} samples/s, loader share {r.get('loader_share', 0):.2f}, lr_g {r.get('lr_g', 0):.3g}")
for r in val[:1] + val[-1:]:
    print("validation", {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})
EOF
fi
ls -la "$OUT_DIR"
say "done (train $train_rc, eval $eval_rc)"
rc=0  # a training stopped by the hard limit (124) still exported its weights
{ [ "$train_rc" -eq 0 ] || [ "$train_rc" -eq 124 ]; } && [ "$eval_rc" -eq 0 ] && [ -f "$OUT_DIR/model.safetensors" ] \
    && [ -f "$OUT_DIR/summary.json" ] || rc=1
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit "$rc"
