"""Independent random streams from one user-facing seed.

Seeded directly, two draws of a run (validation split, training subset, label noise, input noise) with seed 0 share
a stream and pick the same examples (the label noise once corrupted exactly the validation split first). So each
draw seeds its generator with :func:`stream_seed`, which mixes the seed with the draw's purpose.
"""

from __future__ import annotations

import hashlib

__all__ = ["stream_seed"]


def stream_seed(purpose: str, seed: int) -> int:
    """A 63-bit generator seed for ``purpose`` (e.g. ``"label-noise"``) and ``seed``, stable across machines."""
    digest = hashlib.sha256(f"sigmse:{purpose}:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
