"""From records to what a chapter shows: frames, paired tests and verdicts, tables, figures.

* :mod:`sigmse.report.analysis`: records to data frames, means and intervals over seeds;
* :mod:`sigmse.report.verdicts`: the paired tests, Holm, margins and verdict words;
* :mod:`sigmse.report.convergence`: time to an accuracy level, censored, and its tests;
* :mod:`sigmse.report.noise_analysis`: the label- and input-noise chapter's frames and tests;
* :mod:`sigmse.report.chapters`: tables and glued cells the chapters share;
* :mod:`sigmse.report.plots`: the figures, in one style.
"""
