#!/usr/bin/env bash
# The paper profile on the device machine: the one command of every `run` call (device/README.md has the sequence).
#
# Each call runs `bash device/paper_gpu.sh` in the repository root of a copy of the working tree, with $OUT the folder
# whose files come back. Only the carried paths differ from call to call:
#   1. stage: each carried .devdata/cifar10.tar.part-NN (device/pack_data.sh) is checked against
#      .devdata/cifar10.sha256 and copied outside the checkout, to $STAGE (/tmp/sigmse-data), which lasts while the
#      machine stays warm; while parts are missing the call ends here;
#   2. once every part is there: reassemble, check, unpack the official files (their md5s are checked on decode);
#      restore .git from .devdata/head.bundle, so the records name their commit; check Python, torch and CUDA;
#   3. the pilots (`sigmse sweep --only epoch_pilot --only noise_pilot`), then device/paper_pilots.py: if the pilots
#      chose other epochs than the profile's budgets (exit 3) or are undecided (4), stop there;
#   4. `sigmse sweep --profile paper --jobs $JOBS`: every run of the profile, into $STAGE/results (seeded with the
#      records the tree carries in results/paper/, so a later call or session resumes);
#   5. every record, and the log, back under $OUT: $OUT/paper-records.tgz (at most 8 files come back, so one archive).
# A time guard interrupts the sweep SIGMSE_DEVICE_SECONDS (default 270) after the script starts, inside the call's
# timeout_s (330): a run in flight then is lost, every stored run is kept and the next call resumes. Exit 0: done, or
# stopped by the guard (the last lines say which); 3 or 4: the pilots' answer (above); anything else: a failure.
#
# Environment: SIGMSE_DEVICE_JOBS (4 runs share the GPU), SIGMSE_DEVICE_SECONDS (270), SIGMSE_DEVICE_STAGE
# (/tmp/sigmse-data), PYTHON (python3), SIGMSE_DEVICE_REHEARSAL=1: the CPU rehearsal (device/rehearse.sh): the same
# steps with the smoke profile's CIFAR-10 accuracy runs on the CPU instead of the paper sweep.
set -uo pipefail

started=$(date +%s)
OUT="${OUT:?the device machine sets OUT, the folder whose files come back}"
STAGE="${SIGMSE_DEVICE_STAGE:-/tmp/sigmse-data}"
JOBS="${SIGMSE_DEVICE_JOBS:-4}"
SECONDS_ALLOWED="${SIGMSE_DEVICE_SECONDS:-270}"
PYTHON="${PYTHON:-python3}"
PROFILE=paper
ARGS=()    # narrowing flags of every sweep
ONLY=()    # the experiments of the main sweep (none: all of them)
REHEARSAL="${SIGMSE_DEVICE_REHEARSAL:-0}"
if [ "$REHEARSAL" = 1 ]; then
  PROFILE=smoke
  ARGS=(--device cpu --datasets cifar10)
  ONLY=(--only accuracy)
fi
REPO="$PWD"
mkdir -p "$STAGE/parts" "$OUT"

say() { echo "paper_gpu [$(($(date +%s) - started)) s]: $*"; }

main() {
# -- 1. stage the carried parts ------------------------------------------------------------------------------
[ -f .devdata/cifar10.sha256 ] && cp .devdata/cifar10.sha256 "$STAGE/cifar10.sha256"
[ -f "$STAGE/cifar10.sha256" ] || { say "no .devdata/cifar10.sha256 carried yet: run device/pack_data.sh and carry it"; exit 2; }
for part in .devdata/cifar10.tar.part-*; do
  [ -f "$part" ] || continue
  name=$(basename "$part")
  if ! grep -q "  $name\$" "$STAGE/cifar10.sha256" || ! (cd .devdata && grep "  $name\$" "$STAGE/cifar10.sha256" | sha256sum -c --quiet -); then
    say "part $name does not match .devdata/cifar10.sha256: pack again (device/pack_data.sh)"; exit 2
  fi
  cp "$part" "$STAGE/parts/$name" && say "staged $name"
done
expected=$(grep -c 'cifar10.tar.part-' "$STAGE/cifar10.sha256")
have=$(ls "$STAGE/parts" | wc -l)
if [ ! -d "$STAGE/root/cifar-10-batches-bin" ] && [ "$have" -lt "$expected" ]; then
  say "$have of $expected data parts staged in $STAGE; carry the next one"
  exit 0
fi

# -- 2. data, provenance, environment -----------------------------------------------------------------------
if [ ! -d "$STAGE/root/cifar-10-batches-bin" ]; then
  cat "$STAGE"/parts/cifar10.tar.part-* >"$STAGE/cifar10.tar"
  (cd "$STAGE" && grep '  cifar10.tar$' cifar10.sha256 | sha256sum -c --quiet -) || { say "the reassembled tar does not match its checksum"; exit 2; }
  mkdir -p "$STAGE/root" && tar -xf "$STAGE/cifar10.tar" -C "$STAGE/root" && rm "$STAGE/cifar10.tar"
  say "CIFAR-10 unpacked in $STAGE/root"
fi
export SIGMSE_DATA_DIR="$STAGE/root" SIGMSE_CACHE_DIR="$STAGE/cache" PYTHONPATH="$REPO" PYTHONUNBUFFERED=1
# git (sigmse.provenance) trusts this copy whoever owns it, without touching any git config file
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$REPO"
# The copy of the tree has no .git: give it the bundle's commit, in a .git this script made (marked, and refreshed
# by every call that carries a bundle, since HEAD moves between calls); never a checkout's own .git.
if [ -f .devdata/head.bundle ] && { [ ! -e .git ] || [ -f .git/sigmse-device-copy ]; }; then
  { [ -e .git ] || { git init -q && git config core.fileMode false && touch .git/sigmse-device-copy; }; } \
    && git fetch -q .devdata/head.bundle HEAD && git update-ref HEAD FETCH_HEAD && git read-tree HEAD \
    || say "could not restore .git from the bundle: the records will name no commit"
fi
say "commit $(git rev-parse --short HEAD 2>/dev/null || echo none), sigmse/ changed since: $(git status --porcelain --untracked-files=no -- sigmse 2>/dev/null | wc -l) files"
"$PYTHON" - "$REHEARSAL" <<'EOF' || { say "the environment check failed (above)"; exit 2; }
import sys, importlib
for name in ("torch", "torchvision", "numpy", "tqdm", "pandas", "statsmodels"):  # the sweep's and the pilot rules' needs
    print(f"{name} {importlib.import_module(name).__version__}")
import torch
if torch.cuda.is_available():
    print(f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
elif sys.argv[1] != "1":
    sys.exit("torch sees no CUDA device")
from sigmse.data.datasets import load_dataset
data = load_dataset("cifar10")  # checks the md5s and fills the decode cache once, before the workers start
print(f"cifar10: {len(data.train_labels)} training and {len(data.test_labels)} test images")
EOF

RESULTS="$STAGE/results"
mkdir -p "$RESULTS/$PROFILE"
[ -d "results/$PROFILE" ] && cp -n "results/$PROFILE"/*.json "$RESULTS/$PROFILE/" 2>/dev/null
say "$(ls "$RESULTS/$PROFILE" | grep -c '\.json$') records of profile $PROFILE already stored"

pack() {  # every record of the profile, whatever happened above, in one archive under $OUT
  tar -czf "$OUT/paper-records.tgz" -C "$RESULTS" "$PROFILE" && say "$(ls "$RESULTS/$PROFILE" | grep -c '\.json$') records in $OUT/paper-records.tgz"
}
trap pack EXIT

guarded() {  # run "$@" until the guard's deadline; 0 when it finished, 124 when the guard stopped it
  local left=$((started + SECONDS_ALLOWED - $(date +%s)))
  if [ "$left" -lt 20 ]; then say "time guard: too little time left to start ($left s)"; return 124; fi
  timeout -s INT -k 20 "$left" "$@"
  local status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 130 ]; then say "time guard: stopped after ${SECONDS_ALLOWED} s; call again to resume"; return 124; fi
  return "$status"
}
sweep() { guarded "$PYTHON" -m sigmse.cli sweep --profile "$PROFILE" --results-dir "$RESULTS" --jobs "$JOBS" "${ARGS[@]}" "$@"; }

# -- 3. the pilots, and do they agree with the budgets? -----------------------------------------------------
sweep --only epoch_pilot --only noise_pilot
status=$?
[ "$status" -eq 0 ] || exit $((status == 124 ? 0 : status))
"$PYTHON" device/paper_pilots.py --profile "$PROFILE" --results-dir "$RESULTS"
status=$?
[ "$status" -eq 0 ] || { say "the pilots decide other epochs than the profile's (above): set them in a commit, then call again"; exit "$status"; }

# -- 4. the sweep --------------------------------------------------------------------------------------------
sweep "${ONLY[@]}"
status=$?
[ "$status" -eq 124 ] && exit 0
"$PYTHON" -m sigmse.cli sweep --profile "$PROFILE" --results-dir "$RESULTS" "${ARGS[@]}" "${ONLY[@]}" --dry-run | head -n 3
[ "$status" -eq 0 ] && say "the sweep is done" || say "the sweep ended with status $status (failed runs above)"
exit "$status"
}

main 2>&1 | tee -a "$OUT/paper-gpu.log"  # the log comes back too; a pipeline, so it is complete when the call ends
exit "${PIPESTATUS[0]}"
