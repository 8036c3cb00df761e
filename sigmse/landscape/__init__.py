"""The loss landscape over two free logits, computed (layer 0: it never imports :mod:`sigmse.report`):
:mod:`~sigmse.landscape.surfaces` (losses and gradient norms on a logit grid, stable and naive forms, both from
:mod:`sigmse.losses`) and :mod:`~sigmse.landscape.curvature` (float64 Hessians, eigenvalues, conditioning). The
chapter's parts, verdict and figures are :mod:`sigmse.report.landscape` and its ``landscape_*`` siblings.
"""
