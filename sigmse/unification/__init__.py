"""The unification experiment: one network for classification and regression (rotated MNIST).

* :mod:`sigmse.unification.config`: its run config, learning-rate grid and validation score;
* :mod:`sigmse.unification.train`: the rotated data, the methods' losses and their training;
* :mod:`sigmse.unification.analysis`: the chapter's frames and paired tests.
"""
