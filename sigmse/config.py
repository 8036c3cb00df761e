"""``RunConfig``: everything that defines one training run, validated on construction with a message that quotes the
bad value and what is allowed. Its canonical JSON names the run's record; ``device`` is deliberately *not* part of
that identity (it says where a run executes, not what it is), so GPU results are found again on a CPU.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Mapping

from sigmse.checks import check_choice, check_number, check_typed
from sigmse.data.datasets import dataset_names
from sigmse.data.noise import INPUT_NOISE_WHERE, LABEL_NOISE_KINDS
from sigmse.losses.modules import get_loss, loss_options
from sigmse.models import model_names

__all__ = ["RunConfig", "IdentifiedConfig", "OPTIMIZERS", "SCHEDULES", "PRECISIONS", "DEVICES", "HASH_NEUTRAL_DEFAULTS",
           "config_from_dict", "check_data_budget", "check_loss_options", "reject_unknown_keys"]

OPTIMIZERS = ("sgd", "nesterov", "adam")
SCHEDULES = ("constant", "cosine", "linear")  # after the linear warm-up
PRECISIONS = ("float32", "bfloat16")  # bfloat16 = autocast on CUDA only
DEVICES = ("auto", "cpu", "cuda")

_EXECUTION_FIELDS = ("device",)  # not part of a run's identity (see the module docstring)

# Fields added after records existed: left out of a config's dict (and so of its identity) while they hold their
# default, so every run configured before they existed keeps its hash and its stored record.
HASH_NEUTRAL_DEFAULTS: dict[str, Any] = {"threads": None, "augment_translate": 4, "tta_flip": False}


def check_loss_options(loss: str, options: Mapping[str, Any]) -> None:
    """Check a run's loss options: each a known option of ``loss`` (``reduction`` excepted: the trainer sets
    it), of its declared type, and then accepted by the loss itself (its own range checks, e.g. ``pos > neg``)."""
    allowed = set(loss_options(loss)) - {"reduction"}  # ValueError listing the losses for an unknown one
    if unknown := sorted(set(options) - allowed):
        names = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"loss {loss!r} has no option {unknown[0]!r}; its options are: {names}")
    get_loss(loss, **options)  # the options' declared types, then the loss's own range checks


def check_data_budget(config: Any) -> None:
    """The fields every run config shares for its data: ``train_subset`` and ``test_subset`` (``None`` or
    >= 1), ``val_size`` (>= 0) and ``seed`` (an integer >= 0); :class:`RunConfig` and the unification config."""
    for name in ("train_subset", "test_subset"):
        if getattr(config, name) is not None:
            check_number(name, getattr(config, name), low=1, integer=True)
    check_number("val_size", config.val_size, low=0, integer=True)
    check_number("seed", config.seed, low=0, integer=True)  # numpy's generators take no negative seed


class IdentifiedConfig:
    """Run identity for a frozen config dataclass that defines ``to_dict()``: 16 hex digits of the SHA-256 of its
    canonical JSON name the result file, stably across processes and machines."""

    record_folder: ClassVar[str] = ""  # the store's sub-folder of a profile for records of this config class

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """The run in a few words, for failure lists: ``<hash> <what it trains> lr=<lr> seed=<seed>``."""
        raise NotImplementedError

    def canonical_json(self) -> str:
        """The run's identity: sorted-key JSON of every field except ``device``."""
        data = {k: v for k, v in self.to_dict().items() if k not in _EXECUTION_FIELDS}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunConfig(IdentifiedConfig):
    """One training run. Defaults give a 3-epoch MNIST MLP run that takes seconds on a CPU."""

    dataset: str = "mnist"
    model: str = "mlp"
    loss: str = "softmax_ce"
    # keyword options of the loss (e.g. {"pos": 0.9, "neg": 0.1}), stored sorted as pairs so the config stays hashable
    loss_options: tuple[tuple[str, Any], ...] = ()
    optimizer: str = "adam"  # adam is insensitive to the gradient scale, which differs by loss
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd and nesterov only
    batch_size: int = 128
    epochs: int = 3
    # validation accuracy measured this many times per epoch at evenly spaced steps, so a convergence curve
    # resolves fractions of an epoch; training itself is unchanged
    evals_per_epoch: int = 4
    schedule: str = "constant"
    warmup_epochs: float = 0.0  # linear warm-up from 0 to lr, in (fractional) epochs
    augment: bool = False  # random reflect-padded crop (translation) + horizontal flip, batched on the device
    augment_translate: int = 4  # the crop's padding in pixels: 4 for every run before it existed, airbench94's 2
    tta_flip: bool = False  # evaluate on the mean logits of each image and its mirror, for every loss alike
    label_noise: str = "none"
    label_noise_rate: float = 0.0  # share of training labels changed, in [0, 1)
    input_noise_sigma: float = 0.0  # Gaussian sigma on the [0, 1] pixel scale, clipped
    input_noise_at: str = "both"
    test_input_sigmas: tuple[float, ...] = ()  # extra final evaluations on noisy test inputs
    train_subset: int | None = None  # class-stratified subset of the training split (CPU profiles)
    test_subset: int | None = None  # evaluate on the first N test images (official order; smoke/quick only)
    val_size: int = 5000  # validation examples carved from the training set (fixed split)
    seed: int = 0  # model initialisation and batch order
    noise_seed: int | None = None  # label/input noise; None = same as seed
    precision: str = "float32"
    device: str = "auto"
    # torch intra-op threads; None: not fixed by the config (the sweep's --threads, else torch's own). Another thread
    # count changes the last bits (over many epochs up to half a point), so a protocol that pairs runs fixes it
    threads: int | None = None

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, dataset_names())
        check_choice("model", self.model, model_names())
        options = dict(self.loss_options)  # pairs or a mapping (with_, config_from_dict)
        check_loss_options(self.loss, options)  # names, types and values; the trainer fixes the reduction
        object.__setattr__(self, "loss_options", tuple(sorted(options.items())))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        check_number("epochs", self.epochs, low=1, integer=True)
        check_number("evals_per_epoch", self.evals_per_epoch, low=1, integer=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_number("warmup_epochs", self.warmup_epochs, low=0.0, high=self.epochs)
        check_number("augment_translate", self.augment_translate, low=0, integer=True)
        if not self.augment and self.augment_translate != HASH_NEUTRAL_DEFAULTS["augment_translate"]:
            raise ValueError(f"augment_translate {self.augment_translate!r} needs augment true")
        check_typed("tta_flip", self.tta_flip, "bool")
        check_choice("label_noise", self.label_noise, LABEL_NOISE_KINDS)
        check_number("label_noise_rate", self.label_noise_rate, low=0.0, high=1.0, high_open=True)
        if self.label_noise == "none" and self.label_noise_rate != 0.0:
            raise ValueError(f"label_noise_rate {self.label_noise_rate!r} needs label_noise symmetric or asymmetric")
        check_number("input_noise_sigma", self.input_noise_sigma, low=0.0)
        check_choice("input_noise_at", self.input_noise_at, INPUT_NOISE_WHERE)
        for sigma in self.test_input_sigmas:
            check_number("test_input_sigmas entry", sigma, low=0.0)
        object.__setattr__(self, "test_input_sigmas", tuple(float(s) for s in self.test_input_sigmas))
        check_data_budget(self)
        if self.noise_seed is not None:
            check_number("noise_seed", self.noise_seed, low=0, integer=True)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("device", self.device, DEVICES)
        if self.threads is not None:
            check_number("threads", self.threads, low=1, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON types (``loss_options`` as a dict), less those of
        :data:`HASH_NEUTRAL_DEFAULTS` that hold their default."""
        data = asdict(self)
        data["loss_options"] = dict(self.loss_options)
        data["test_input_sigmas"] = list(self.test_input_sigmas)
        return {k: v for k, v in data.items() if not (k in HASH_NEUTRAL_DEFAULTS and v == HASH_NEUTRAL_DEFAULTS[k])}

    @property
    def effective_noise_seed(self) -> int:
        return self.seed if self.noise_seed is None else self.noise_seed

    @property
    def label(self) -> str:
        return f"{self.hash} {self.dataset}/{self.model}/{self.loss} lr={self.lr:g} seed={self.seed}"

    def with_(self, **changes: Any) -> "RunConfig":
        """A copy with ``changes`` applied (and validated; ``loss_options`` may be a mapping)."""
        return replace(self, **changes)


def reject_unknown_keys(config_class: type, data: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first key of ``data`` that is not a field of ``config_class``."""
    known = {f.name for f in fields(config_class)}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"unknown config key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig` from a mapping (its JSON form), rejecting unknown keys by name."""
    reject_unknown_keys(RunConfig, data)
    return RunConfig(**data)  # __post_init__ turns loss_options and test_input_sigmas into tuples
