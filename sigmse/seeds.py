"""Independent random streams from one user-facing seed.

Several draws in a run start from small integer seeds: the validation split, the training subset, the label
noise, the input noise. Seeded directly, seed 0 for one and seed 0 for another give the *same* stream, and
two draws of the same length then pick the same examples (the label noise corrupted exactly the validation
split first). Each draw therefore seeds its generator with :func:`stream_seed`, which mixes the seed with
the draw's purpose, so different purposes never share a stream and the same purpose and seed always do.
"""

from __future__ import annotations

import hashlib

__all__ = ["stream_seed"]


def stream_seed(purpose: str, seed: int) -> int:
    """A 63-bit generator seed for ``purpose`` (e.g. ``"label-noise"``) and ``seed``, stable across machines."""
    digest = hashlib.sha256(f"sigmse:{purpose}:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
