"""The runs: the profiles and experiments, the protocol that chooses learning rates, the store, executors, audit.

* :mod:`sigmse.runs.profiles`: the budgets (smoke, quick, full, paper) and the experiments' run grids;
* :mod:`sigmse.runs.protocol`: selection and reporting seeds, the learning rates chosen on validation;
* :mod:`sigmse.runs.store`: result records as JSON files named by their config hash;
* :mod:`sigmse.runs.executors`: where runs execute: this process, a process pool, a Ray cluster;
* :mod:`sigmse.runs.audit`: ``sigmse audit``, retraining committed records and comparing.
"""
