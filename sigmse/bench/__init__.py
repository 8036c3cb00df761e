"""``sigmse bench``: :mod:`sigmse.bench.run` (sizes, goals, records, command), :mod:`sigmse.bench.measures` (what
it times) and :mod:`sigmse.bench.naive_loop` (the hand-written ``DataLoader`` loop it compares with). The
performance page's analysis of its records is :mod:`sigmse.report.performance`."""
