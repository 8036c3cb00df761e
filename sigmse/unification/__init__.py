"""The unification experiment: one network for classification and regression (rotated MNIST).

* :mod:`sigmse.unification.config`: its run config and validation score;
* :mod:`sigmse.unification.train`: the rotated data, the methods' losses and their training.

Which runs a profile trains is :func:`sigmse.runs.profiles.unification_configs`; the chapter's frames and paired
tests are :mod:`sigmse.report.unification`.
"""
