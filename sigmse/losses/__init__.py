"""The losses: :mod:`~sigmse.losses.functional` (functions of logits and labels), :mod:`~sigmse.losses.modules`
(a thin module per loss and the registry, re-exported here), :mod:`~sigmse.losses.naive` (textbook forms) and
:mod:`~sigmse.losses.output_reset` (the Output Reset targets of Tyagi et al., arXiv 2411.11213).
"""
from sigmse.losses import functional, naive, output_reset
from sigmse.losses.modules import *  # noqa: F401,F403  (the public names of sigmse.losses.modules.__all__)
from sigmse.losses.modules import __all__ as _modules_all

__all__ = ["functional", "naive", "output_reset", *_modules_all]
