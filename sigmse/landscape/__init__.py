"""The loss-landscape chapter: the surfaces over two free logits, their curvature, the verdict, the figures.

* :mod:`sigmse.landscape.surfaces`: losses and gradient norms on a logit grid, stable and naive forms (the losses
  and both forms are :mod:`sigmse.losses`');
* :mod:`sigmse.landscape.curvature`: float64 Hessians along the logits, eigenvalues and conditioning;
* :mod:`sigmse.landscape.verdict`: the thresholds and the rule that turns the measurements into a verdict;
* :mod:`sigmse.landscape.plots`: the chapter's figures and tables;
* :mod:`sigmse.landscape.chapter`: one function per figure or table of the chapter, and the values its prose glues.
"""
