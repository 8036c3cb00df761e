"""The loss landscape over two free logits, computed (layer 0: it never imports :mod:`sigmse.report`).

* :mod:`sigmse.landscape.surfaces`: losses and gradient norms on a logit grid, stable and naive forms (the losses
  and both forms are :mod:`sigmse.losses`');
* :mod:`sigmse.landscape.curvature`: float64 Hessians along the logits, eigenvalues and conditioning.

The chapter's parts, verdict and figures are :mod:`sigmse.report.landscape`, :mod:`sigmse.report.landscape_verdict`
and :mod:`sigmse.report.landscape_plots`.
"""
