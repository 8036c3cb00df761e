"""Provenance: what made a record, a benchmark or a book page (commit, machine, processor, versions)."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

import torch

import sigmse

__all__ = ["source_commit", "machine", "processor", "processor_kind", "UNRECORDED_PROCESSOR", "recorded_processor",
           "device_name", "run_provenance", "utc_now"]

_SOURCE = Path(sigmse.__file__).resolve().parent.parent  # the checkout (or site-packages) holding sigmse/


def _run(*command: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, cwd=_SOURCE, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None


def _git(*args: str) -> str | None:
    done = _run("git", *args)
    return done.stdout.strip() if done is not None and done.returncode == 0 else None


def source_commit() -> dict[str, Any]:
    """``git_commit`` (``None`` outside a git checkout, e.g. a pip install) and ``git_dirty`` (``sigmse/`` changed)."""
    if (commit := _git("rev-parse", "HEAD")) is None:
        return {"git_commit": None, "git_dirty": None}
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "sigmse")
    return {"git_commit": commit, "git_dirty": bool(dirty)}


def _gpus() -> str | None:
    listed = _run("nvidia-smi", "--query-gpu=name", "--format=csv,noheader") if shutil.which("nvidia-smi") else None
    names = [line.strip() for line in listed.stdout.splitlines() if line.strip()] if listed else []
    return ", ".join(names) or None


def machine() -> dict[str, Any]:
    """The platform, cores (all, and usable by this process), GPUs, Python and torch versions, torch's
    inter-op threads and the 1-minute load average (timings move on a busy machine)."""
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "gpus": _gpus(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_interop_threads": torch.get_num_interop_threads(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


_SIMD_PREFIXES = ("sse", "ssse", "avx", "amx", "fma", "f16c")  # the flags a BLAS picks its kernels by


@functools.cache  # the CPU does not change under a running process; every stored record asks
def processor() -> str | None:
    """The CPU: model name, family/model/stepping, torch's CPU capability and its vector-instruction flags, e.g.
    ``"Intel(R) Xeon(R) Processor (family 6 model 167 stepping 1); torch AVX512; amx_bf16 ... fma sse4_2"``;
    ``None`` without ``/proc/cpuinfo``. MKL and oneDNN choose their kernels by these instructions, so a run repeats
    bit for bit only on the same kind of processor, which :func:`device_name` alone does not tell apart.
    """
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = text.split("\n\n", 1)[0].splitlines()  # the first logical CPU's block
    first = {key.strip(): value.strip() for key, sep, value in (line.partition(":") for line in lines) if sep}
    flags = sorted(f for f in first.get("flags", "").split() if f.startswith(_SIMD_PREFIXES))
    name = first.get("model name") or first.get("Processor") or platform.machine()
    numbers = " ".join(f"{label} {first[key]}" for key, label in
                       (("cpu family", "family"), ("model", "model"), ("stepping", "stepping")) if key in first)
    return (name + (f" ({numbers})" if numbers else "") + f"; torch {torch.backends.cpu.get_cpu_capability()}"
            + (f"; {' '.join(flags)}" if flags else ""))


def processor_kind(description: str) -> str:
    """A :func:`processor` description without its list of flags: the model and torch's CPU capability, short
    enough for a line that lists the processors of many records."""
    return "; ".join(description.split("; ")[:2])


UNRECORDED_PROCESSOR = "processor not recorded"  # what recorded_processor says of a record that names none


def recorded_processor(provenance: Mapping[str, Any]) -> str:
    """The :func:`processor_kind` of a record's (or a bench record's) ``provenance``, or
    :data:`UNRECORDED_PROCESSOR` for one made before provenance named its processor."""
    description = provenance.get("processor")
    return processor_kind(description) if description else UNRECORDED_PROCESSOR


def device_name(device: str) -> str:
    """The GPU's name for a CUDA device, else the CPU's kind and logical core count."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} logical cores)"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_provenance(device: str) -> dict[str, Any]:
    """Where and with what a run was made: the ``provenance`` of a result record."""
    return {"sigmse_version": sigmse.__version__, **source_commit(), "torch_version": torch.__version__,
            "python_version": platform.python_version(), "platform": platform.platform(), "device": device,
            "device_name": device_name(device), "processor": processor(), "torch_threads": torch.get_num_threads(),
            "date": utc_now()}
