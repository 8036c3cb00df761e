"""Benchmarks: ``sigmse bench`` and what it measures.

* :mod:`sigmse.bench.run`: the command, its sizes and its JSON record;
* :mod:`sigmse.bench.measures`: throughput against the GEMM floor and hand-written loops, loss and
  Output Reset costs, time per epoch as data grows;
* :mod:`sigmse.bench.naive_loop`: the ``DataLoader`` loop a user writes by hand, the baseline.
"""
