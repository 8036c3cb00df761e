"""The losses: functional forms, their :class:`torch.nn.Module` wrappers and registry, and Output Reset.

* :mod:`sigmse.losses.functional`: every loss as a function of logits and labels, like ``torch.nn.functional``;
* :mod:`sigmse.losses.modules`: a thin module per loss and the registry (:func:`get_loss`) that names them;
* :mod:`sigmse.losses.naive`: the losses' textbook forms, ``exp`` and ``log`` written out, to trace artefacts;
* :mod:`sigmse.losses.output_reset`: the Output Reset targets of Tyagi et al. (arXiv 2411.11213).

The modules and the registry are re-exported here, so ``from sigmse.losses import SigmoidMSELoss`` works.
"""
from sigmse.losses import functional, naive, output_reset
from sigmse.losses.modules import *  # noqa: F401,F403  (the public names of sigmse.losses.modules.__all__)
from sigmse.losses.modules import __all__ as _modules_all

__all__ = ["functional", "naive", "output_reset", *_modules_all]
