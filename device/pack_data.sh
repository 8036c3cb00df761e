#!/usr/bin/env bash
# Pack what the device machine needs beside the working tree into the git-ignored .devdata/ (never committed):
#   .devdata/cifar10.tar.part-NN  the official CIFAR-10 binary batches (xz, ~133 MiB in all), tarred and split into
#                                 equal parts, each small enough to travel with the working tree in one `run` call
#                                 (64 MiB a call, the tree included);
#   .devdata/cifar10.sha256       the checksums of the whole tar and of each part (device/paper_gpu.sh checks both);
#   .devdata/head.bundle          a git bundle of HEAD, so that the records made there name the commit that made them
#                                 (the copy of the tree that travels has no .git; sigmse.provenance reads git).
# The parts are made once (again only when the data or the tree's size asks for other parts); the bundle every time,
# since HEAD moves. Prints the carry list of each `run` call (device/README.md gives the whole sequence).
#
# Usage, from the repository root:  bash device/pack_data.sh [DATA_ROOT]
#   DATA_ROOT: the folder holding cifar-10-batches-bin/ (default: $SIGMSE_DATA_DIR, else /work/shared/data).
set -euo pipefail

MIB=$((1024 * 1024))
CALL_LIMIT=$((64 * MIB))   # what one `run` call carries: the working tree and the carried paths together
HEADROOM=$((10 * MIB))     # records brought back during a session travel in later calls, and the tree grows

root="${1:-${SIGMSE_DATA_DIR:-/work/shared/data}}"
source_dir="$root/cifar-10-batches-bin"
[ -d "$source_dir" ] || { echo "pack_data: no CIFAR-10 folder at $source_dir; pass the data root" >&2; exit 2; }
cd "$(git rev-parse --show-toplevel)"
git check-ignore -q .devdata/x || { echo "pack_data: .devdata/ is not git-ignored; refusing to write data there" >&2; exit 2; }
mkdir -p .devdata

# The working tree that travels with every call: tracked files and untracked ones git does not ignore.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')

git bundle create .devdata/head.bundle HEAD 2>/dev/null
bundle_bytes=$(stat -c %s .devdata/head.bundle)

# One deterministic tar (sorted names, fixed times and owners), so the same files always give the same parts.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf .devdata/cifar10.tar.new cifar-10-batches-bin
tar_bytes=$(stat -c %s .devdata/cifar10.tar.new)
tar_sum=$(sha256sum .devdata/cifar10.tar.new | cut -d' ' -f1)

room=$((CALL_LIMIT - tree_bytes - bundle_bytes - HEADROOM))  # the last part travels with the bundle
[ "$room" -gt $((8 * MIB)) ] || { echo "pack_data: the working tree ($((tree_bytes / MIB)) MiB) leaves too little room in a 64 MiB call" >&2; exit 2; }
parts=$(((tar_bytes + room - 1) / room))

if [ -f .devdata/cifar10.sha256 ] && grep -q "^$tar_sum  cifar10.tar$" .devdata/cifar10.sha256 \
   && [ "$(grep -c 'cifar10.tar.part-' .devdata/cifar10.sha256)" -eq "$parts" ]; then
  echo "pack_data: the $parts parts in .devdata/ are current"
  rm .devdata/cifar10.tar.new
else
  rm -f .devdata/cifar10.tar.part-* .devdata/cifar10.sha256
  split -n "$parts" -d -a 2 .devdata/cifar10.tar.new .devdata/cifar10.tar.part-
  {
    echo "$tar_sum  cifar10.tar"
    (cd .devdata && sha256sum cifar10.tar.part-*)
  } >.devdata/cifar10.sha256
  rm .devdata/cifar10.tar.new
  echo "pack_data: $parts parts of $(((tar_bytes / parts + MIB - 1) / MIB)) MiB from $source_dir"
fi

echo "pack_data: working tree $((tree_bytes / MIB)) MiB, bundle of HEAD $(git rev-parse --short HEAD) $((bundle_bytes / MIB)) MiB"
echo "pack_data: the run calls, one right after the other, each with command 'bash device/paper_gpu.sh':"
last=$(ls .devdata/cifar10.tar.part-* | tail -n 1)
for part in .devdata/cifar10.tar.part-*; do
  if [ "$part" = "$last" ]; then
    echo "  carry [\"$part\", \".devdata/cifar10.sha256\", \".devdata/head.bundle\"], timeout_s 330 (then it trains)"
  else
    echo "  carry [\"$part\", \".devdata/cifar10.sha256\"], timeout_s 120"
  fi
done
echo "  carry [\".devdata/head.bundle\"], command 'SIGMSE_DEVICE_SECONDS=<T - 60> bash device/paper_gpu.sh', timeout_s T (each further call on the warm machine: the sweep goes on)"
