#!/usr/bin/env bash
# The CPU rehearsal of the device sequence (device/README.md), here, with no GPU: everything but the GPU.
#
# Like the device machine, each "call" runs `bash device/paper_gpu.sh` in a copy of the working tree (tracked files
# and untracked ones git does not ignore: no .git, no .devdata) with only that call's carried paths added and a fresh
# $OUT. The calls are the ones device/pack_data.sh prints; with SIGMSE_DEVICE_REHEARSAL=1 the last one trains the
# smoke profile's CIFAR-10 accuracy runs on the CPU instead of the paper sweep. Checks at the end: every data part
# was staged and the tar reassembled, the sweep's records came back in $OUT/paper-records.tgz, and they name the
# commit of HEAD (restored from the bundle).
#
# Usage, from the repository root:  bash device/rehearse.sh [WORK_DIR]   (default /tmp/sigmse-rehearsal; emptied)
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
work="${1:-/tmp/sigmse-rehearsal}"
case "$work" in /tmp/*) ;; *) echo "rehearse: WORK_DIR must be under /tmp (it is emptied): $work" >&2; exit 2 ;; esac
rm -rf "$work" && mkdir -p "$work/tree" "$work/out"
python="$(pwd)/.venv/bin/python"
[ -x "$python" ] || python=python3

bash device/pack_data.sh
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$work/tree"

call() {  # one `run` call: a fresh $OUT, only these carried paths in .devdata/, the one command
  rm -rf "$work/tree/.devdata" "$work/out" && mkdir -p "$work/tree/.devdata" "$work/out"
  for path in "$@"; do cp "$path" "$work/tree/$path"; done
  echo "rehearse: call carrying $*"
  (cd "$work/tree" && OUT="$work/out" SIGMSE_DEVICE_STAGE="$work/stage" SIGMSE_DEVICE_REHEARSAL=1 \
    SIGMSE_DEVICE_JOBS=2 PYTHON="$python" bash device/paper_gpu.sh)
}

parts=(.devdata/cifar10.tar.part-*)
for part in "${parts[@]::${#parts[@]}-1}"; do
  call "$part" .devdata/cifar10.sha256
done
call "${parts[-1]}" .devdata/cifar10.sha256 .devdata/head.bundle
tar -xzf "$work/out/paper-records.tgz" -C "$work/tree/results"  # what the session does with the records
call .devdata/head.bundle  # a further call on the warm machine: the data is staged, every run is stored
grep -q "every run is stored: nothing to train" "$work/out/paper-gpu.log"

records="$work/records"
mkdir -p "$records" && tar -xzf "$work/out/paper-records.tgz" -C "$records"
"$python" - "$records/smoke" "$(git rev-parse HEAD)" <<'EOF'
import json, sys
from pathlib import Path
records = [json.loads(p.read_text()) for p in sorted(Path(sys.argv[1]).glob("*.json"))]
assert records, "no records came back"
commits = {r["provenance"]["git_commit"] for r in records}
assert commits == {sys.argv[2]}, f"the records name {commits}, not HEAD {sys.argv[2]}"
print(f"rehearse: {len(records)} records came back in paper-records.tgz, statuses "
      f"{sorted({r['status'] for r in records})}, made at HEAD {sys.argv[2][:7]} on {records[0]['provenance']['device']}")
EOF
