"""From records to what a chapter shows: frames, paired tests and verdicts, tables, figures (layer 2).

It reads records (and the landscape's and the bench's measurements) and never trains: a notebook gets its runs
from :func:`sigmse.runs.executors.experiment_records` and hands them here. Each chapter's page is a class in its own
module (:mod:`~sigmse.report.accuracy`, :mod:`~sigmse.report.convergence`, :mod:`~sigmse.report.output_reset`,
:mod:`~sigmse.report.noise`, :mod:`~sigmse.report.landscape`, :mod:`~sigmse.report.unification`,
:mod:`~sigmse.report.performance`, ...) whose parts are :class:`sigmse.report.analysis.Part`; what they share is in
:mod:`~sigmse.report.analysis`, :mod:`~sigmse.report.verdicts`, :mod:`~sigmse.report.chapters` and
:mod:`~sigmse.report.plots`.
"""
