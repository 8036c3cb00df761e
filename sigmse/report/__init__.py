"""From records to what a chapter shows: frames, paired tests and verdicts, tables, figures. This layer reads
records (and the landscape's and the bench's measurements) and never trains: a notebook gets its runs from
:func:`sigmse.runs.executors.experiment_records` and hands them here. Each part of a page is a
:class:`sigmse.report.analysis.Part`.

* :mod:`sigmse.report.analysis`: records to data frames, means and intervals over seeds; the :class:`Part` of a page;
* :mod:`sigmse.report.verdicts`: the paired tests, Holm, margins and verdict words;
* :mod:`sigmse.report.chapters`: what several chapters' pages share: the runs' frame, budgets, tables, glue;
* :mod:`sigmse.report.accuracy`: the accuracy chapter;
* :mod:`sigmse.report.convergence`: time to an accuracy level, censored, and its tests; the convergence chapter;
* :mod:`sigmse.report.output_reset`: the Output Reset chapter (ablation, thread pairs, plain-SGD sweep);
* :mod:`sigmse.report.pilots`: the pilots that fix a protocol's epochs, and their rules;
* :mod:`sigmse.report.noise`, :mod:`~sigmse.report.noise_rules`, :mod:`~sigmse.report.noise_tables`,
  :mod:`~sigmse.report.noise_analysis`: the label- and input-noise chapter;
* :mod:`sigmse.report.landscape`, :mod:`~sigmse.report.landscape_verdict`, :mod:`~sigmse.report.landscape_plots`:
  the loss-landscape chapter, from :mod:`sigmse.landscape`'s measurements;
* :mod:`sigmse.report.unification`: the unification chapter;
* :mod:`sigmse.report.performance`: the performance page, from a ``sigmse bench`` record;
* :mod:`sigmse.report.plots`: the figures, in one style.
"""
