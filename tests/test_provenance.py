"""Provenance: a record names the processor it ran on, since two CPUs of the same name and core count can choose
other matrix-product kernels (AVX-512, AMX, ...) and so sum in another order."""

from __future__ import annotations

import platform
import sys

import pytest
import torch

from sigmse.provenance import processor, processor_kind, recorded_processor, run_provenance


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.machine() != "x86_64",
                    reason="reads an x86-64 /proc/cpuinfo")
def test_processor_names_the_cpu_model_torchs_capability_and_the_vector_flags():
    described = processor()
    assert described is not None
    model_line = next(line for line in open("/proc/cpuinfo", encoding="utf-8") if line.startswith("model name"))
    assert described.startswith(model_line.partition(":")[2].strip())
    assert f"; torch {torch.backends.cpu.get_cpu_capability()}" in described
    flags = described.rpartition("; ")[2].split()
    assert flags == sorted(flags) and all(f.startswith(("sse", "ssse", "avx", "amx", "fma", "f16c")) for f in flags)


def test_a_records_provenance_carries_the_processor():
    assert run_provenance("cpu")["processor"] == processor()


def test_processor_kind_keeps_the_model_and_capability_and_drops_the_flags():
    assert processor_kind("Xeon (family 6 model 143 stepping 8); torch AVX512; avx2 avx512f") == (
        "Xeon (family 6 model 143 stepping 8); torch AVX512")
    assert processor_kind("Graviton; torch DEFAULT") == "Graviton; torch DEFAULT"


def test_recorded_processor_names_a_records_processor_kind_or_says_it_was_not_recorded():
    assert recorded_processor({"processor": "Xeon (family 6 model 143 stepping 8); torch AVX512; avx2"}) == (
        "Xeon (family 6 model 143 stepping 8); torch AVX512")
    assert recorded_processor({"device_name": "CPU: x86_64 (2 logical cores)"}) == "processor not recorded"
    assert recorded_processor({"processor": None}) == "processor not recorded"  # no /proc/cpuinfo where made
