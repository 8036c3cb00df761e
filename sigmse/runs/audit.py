"""``sigmse audit``: retrain stored records drawn at random and check that they reproduce.

:func:`audit` draws records of every kind of run with its own seeded generator and retrains each from its stored
config. On the **same setup** (torch version, device, processor, with the record's thread count) the rerun must
be bit-identical, timings left out; where the record names no **processor**, bit-identical shows the same kind
(two CPUs of one name may differ in the instructions MKL and oneDNN choose kernels by); on **another setup** its
test accuracy must lie within :data:`SPREAD_FACTOR` seed standard deviations of the stored one, or
:data:`MIN_TOLERANCE`. Each record gets one line saying which comparison applied and how it came out.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from sigmse.checks import check_number
from sigmse.provenance import run_provenance
from sigmse.runs.experiments import RUN_KINDS
from sigmse.runs.store import read_record
from sigmse.train import resolve_device

__all__ = ["SPREAD_FACTOR", "MIN_TOLERANCE", "SAME_SETUP", "PROCESSOR_NOT_RECORDED", "ANOTHER_SETUP", "AuditResult",
           "comparable", "setup_match", "audit", "summary_line"]

# Another setup may move the final accuracy by rounding alone; more than three standard deviations of the
# seed-to-seed spread is no longer rounding. Where a configuration has a single stored seed: a quarter point.
SPREAD_FACTOR = 3.0
MIN_TOLERANCE = 0.0025
_TIMING_KEYS = ("seconds", "train_seconds", "setup_seconds", "wall_seconds")
SAME_SETUP, PROCESSOR_NOT_RECORDED, ANOTHER_SETUP = "same setup", "processor not recorded", "another setup"


def comparable(result: Mapping[str, Any]) -> dict[str, Any]:
    """A run's history, curve and metrics with every timing left out: what a rerun must reproduce."""
    def strip(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in entry.items() if k not in _TIMING_KEYS and not k.endswith("_seconds")}

    return {"status": result["status"], "history": [strip(e) for e in result.get("history", [])],
            "curve": [strip(p) for p in result.get("curve", [])], "metrics": strip(result.get("metrics", {}))}


def setup_match(stored: Mapping[str, Any], device: str) -> str:
    """How this process compares with the one that made a record (its provenance ``stored``):
    :data:`SAME_SETUP`, :data:`PROCESSOR_NOT_RECORDED` or :data:`ANOTHER_SETUP`.
    """
    here = run_provenance(device)
    if not (all(stored.get(k) == here.get(k) for k in ("torch_version", "device", "device_name"))
            and stored.get("torch_threads") is not None):
        return ANOTHER_SETUP
    if stored.get("processor") is None:
        return PROCESSOR_NOT_RECORDED
    return SAME_SETUP if stored["processor"] == here["processor"] else ANOTHER_SETUP


@dataclass(frozen=True)
class AuditResult:
    """One audited record: whether it reproduced, how it was compared, and a line for the report."""

    hash: str
    reproduced: bool
    bitwise: bool  # reproduced or judged bit for bit, else judged within the seed spread
    line: str


def _replicate(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` less what differs between replicates of one configuration."""
    return {k: v for k, v in config.items() if k not in ("seed", "noise_seed", "device")}


def _spread(config: Any, stored: Sequence[Mapping[str, Any]]) -> float | None:
    """Standard deviation of the final test accuracy over the *other* stored seeds of ``config``'s configuration."""
    values = [record["metrics"]["test_acc"] for record in stored if record["status"] == "ok"
              and record["hash"] != config.hash and record["metrics"].get("test_acc") is not None
              and _replicate(record["config"]) == _replicate(config.to_dict())]
    return statistics.stdev(values) if len(values) >= 2 else None


def _check(config: Any, stored: Mapping[str, Any], rerun: Mapping[str, Any], replicates: Sequence[Mapping[str, Any]],
           setup: str) -> AuditResult:
    """Compare the ``rerun`` of ``config`` with its ``stored`` record as ``setup`` allows: bit for bit, else its
    test accuracy against the spread over ``replicates``."""
    identical, name = comparable(stored) == comparable(rerun), stored["hash"]
    if setup == SAME_SETUP:
        verdict = "bit-identical" if identical else "NOT bit-identical"
        return AuditResult(name, identical, True, f"{name} {verdict} (same torch, device, processor and threads)")
    if setup == PROCESSOR_NOT_RECORDED and identical:
        return AuditResult(name, True, True, f"{name} bit-identical (same torch, device and threads; the record "
                                             "does not name its processor)")
    elsewhere = (f"another setup: torch {stored['provenance'].get('torch_version')} on "
                 f"{stored['provenance'].get('device_name')}" if setup == ANOTHER_SETUP else
                 "not bit-identical; same torch, device and threads, but the record does not name its processor, "
                 "which may differ from this one")
    before, after = stored["metrics"].get("test_acc"), rerun["metrics"].get("test_acc")
    if before is None or after is None:
        return AuditResult(name, stored["status"] == rerun["status"], False,
                           f"{name} status {stored['status']} -> {rerun['status']} ({elsewhere})")
    spread = _spread(config, replicates)
    tolerance = MIN_TOLERANCE if spread is None else max(MIN_TOLERANCE, SPREAD_FACTOR * spread)
    ok = abs(after - before) <= tolerance
    return AuditResult(name, ok, False, f"{name} test accuracy {before:.4f} -> {after:.4f} ({after - before:+.4f}; "
                                        f"{'within' if ok else 'OUTSIDE'} ±{tolerance:.4f}, {elsewhere})")


def audit(profile: str, *, results_dir: str | Path = "results", sample: int = 3, seed: int = 0,
          data_dir: str | Path | None = None, hashes: Sequence[str] | None = None) -> list[AuditResult]:
    """Retrain ``sample`` stored records of ``profile`` (drawn with ``seed``, or exactly ``hashes``) and compare.

    Raises ``ValueError`` for a bad ``sample``/``seed``, an unknown hash, or an empty store, before any training.
    """
    check_number("sample", sample, low=1, integer=True)
    check_number("seed", seed, low=0, integer=True)
    folder = Path(results_dir)
    folders = [(kind, folder / profile / kind.config_type.record_folder) for kind in RUN_KINDS]
    records = [(kind, r) for kind, where in folders for path in sorted(where.glob("*.json"))
               if (r := read_record(path, kind.validate)) is not None and r["status"] in ("ok", "diverged")]
    if hashes is not None:
        known = {r["hash"]: (kind, r) for kind, r in records}
        if unknown := [h for h in hashes if h not in known]:
            raise ValueError(f"no stored record {unknown[0]!r} under {folder / profile}")
        chosen = [known[h] for h in hashes]
    elif not records:
        raise ValueError(f"nothing to audit: no stored record under {folder / profile}")
    else:
        chosen = random.Random(seed).sample(records, min(sample, len(records)))
    results, threads = [], torch.get_num_threads()
    try:
        for kind, stored in chosen:
            config = kind.from_dict(stored["config"])
            if wanted := stored["provenance"].get("torch_threads"):
                torch.set_num_threads(int(wanted))
            setup = setup_match(stored["provenance"], str(resolve_device(config.device)))
            replicates = [r for other, r in records if other is kind]
            results.append(_check(config, stored, kind.train(config, data_dir), replicates, setup))
    finally:
        torch.set_num_threads(threads)
    return results


def summary_line(results: Sequence[AuditResult]) -> str:
    """``"3 of 3 records reproduce (2 bit-identical)"``."""
    good = sum(r.reproduced for r in results)
    bitwise = sum(r.reproduced and r.bitwise for r in results)
    return f"{good} of {len(results)} records reproduce ({bitwise} bit-identical)"
