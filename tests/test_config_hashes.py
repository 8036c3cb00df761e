"""Config hashes are run identities: every stored record is named by one, so a refactor must not move any.

Pinned at commit 3a527cc, before the package was split into subpackages: for every profile and experiment
(unification included), the number of selection and reporting runs and a digest of their sorted hashes. A
changed field name, default or canonical form changes a digest and fails here; a change that is meant to
alter the runs updates its digest in the same commit, and says why.

The paper profile's digests changed on purpose with issue 24, before any paper record existed: it became protocol
v2 (full2's rules) on CIFAR-10 alone, on one GPU (see the comment above its entries). Its pilots are pinned too,
with the selection seeds as every entry here (the noise pilot itself trains the first of them only). The
reporting entries list every experiment at ``report_seeds``, as the other profiles' do, though the paper noise
runs report with 8 of them (``Profile.experiment_report_seeds``).
"""
import hashlib

import pytest

from sigmse.config import RunConfig
from sigmse.runs.experiments import experiment_configs
from sigmse.runs.profiles import get_profile
from sigmse.runs.profiles import unification_configs as selection_configs

PINNED = {
    ("smoke", "accuracy", "selection"): (30, "3791b156f1d34779"),
    ("smoke", "accuracy", "report"): (30, "1dc36299737c9bac"),
    ("smoke", "output_reset", "selection"): (12, "06cc2af1c0afdeef"),
    ("smoke", "output_reset", "report"): (12, "b0e28db123373f90"),
    ("smoke", "lr_sweep", "selection"): (10, "4d04a78717584496"),
    ("smoke", "lr_sweep", "report"): (10, "dc0dca4bed060ee1"),
    ("smoke", "noise", "selection"): (24, "3612212fa2ac0b48"),
    ("smoke", "noise", "report"): (24, "7a5a5b2feedd2329"),
    ("smoke", "unification", "selection"): (10, "06e25fd72062528c"),
    ("quick", "accuracy", "selection"): (130, "198671e72df552bf"),
    ("quick", "accuracy", "report"): (195, "7c76fd0ce8607819"),
    ("quick", "output_reset", "selection"): (60, "45bf9455e613357c"),
    ("quick", "output_reset", "report"): (90, "1051a8cb3f621bc1"),
    ("quick", "lr_sweep", "selection"): (40, "b61c317c86b385c4"),
    ("quick", "lr_sweep", "report"): (60, "94f02c194f1191c0"),
    ("quick", "noise", "selection"): (120, "c002336b59a33db8"),
    ("quick", "noise", "report"): (180, "92d95343f1ce84bd"),
    ("quick", "unification", "selection"): (50, "6b27ea7ec8984eaf"),
    ("full", "accuracy", "selection"): (72, "8ba7ec260fed9a8f"),
    ("full", "accuracy", "report"): (288, "c7cbfe15a520012b"),
    ("full", "output_reset", "selection"): (72, "8c45d9d56c7e1ae6"),
    ("full", "output_reset", "report"): (288, "bb0e7f584e24a8e1"),
    ("full", "lr_sweep", "selection"): (80, "87815aae0b034458"),
    ("full", "lr_sweep", "report"): (320, "f444afa34948f547"),
    ("full", "noise", "selection"): (126, "6da0934175b72982"),
    ("full", "noise", "report"): (504, "4a84cf1716a0993c"),
    ("full", "unification", "selection"): (30, "cc691085abb4dfd5"),
    # paper: protocol v2 on CIFAR-10 on one GPU since issue 24 (no paper record existed before): the runs moved
    # on purpose (airbench at full width, full2's seeds and noise settings, CIFAR-10 only, so the Output Reset
    # ablation, the SGD sweep and unification list none: the sha256 of nothing), and the pilots are pinned too
    ("paper", "accuracy", "selection"): (24, "84505daf6263e964"),
    ("paper", "accuracy", "report"): (216, "e5b95d32e87befb6"),
    ("paper", "output_reset", "selection"): (0, "e3b0c44298fc1c14"),
    ("paper", "output_reset", "report"): (0, "e3b0c44298fc1c14"),
    ("paper", "lr_sweep", "selection"): (0, "e3b0c44298fc1c14"),
    ("paper", "lr_sweep", "report"): (0, "e3b0c44298fc1c14"),
    ("paper", "noise", "selection"): (30, "844f293702e5ad81"),
    ("paper", "noise", "report"): (270, "71bee640e14b4365"),
    ("paper", "unification", "selection"): (0, "e3b0c44298fc1c14"),
    ("paper", "epoch_pilot", "selection"): (6, "af842887bd54efce"),
    ("paper", "noise_pilot", "selection"): (6, "44a45641dfca4ed9"),
}


def _digest(configs) -> str:
    return hashlib.sha256(",".join(sorted(c.hash for c in configs)).encode()).hexdigest()[:16]


@pytest.mark.parametrize(("profile", "experiment", "seeds"), sorted(PINNED))
def test_config_hashes_are_pinned(profile, experiment, seeds):
    chosen = get_profile(profile)
    if experiment == "unification":
        configs = selection_configs(profile)
    else:
        which = chosen.selection_seeds if seeds == "selection" else chosen.report_seeds
        configs = experiment_configs(experiment, profile, seeds=which)
    assert (len(configs), _digest(configs)) == PINNED[profile, experiment, seeds]


def test_one_hash_is_pinned_to_its_canonical_json():
    """The default MNIST run's identity, spelled out: the canonical JSON and its hash."""
    assert RunConfig().hash == hashlib.sha256(RunConfig().canonical_json().encode()).hexdigest()[:16]
    assert RunConfig().hash == "510a729af89d14ed"


def test_fields_added_later_leave_every_identity_unchanged_at_their_default():
    """A field of HASH_NEUTRAL_DEFAULTS is absent from the canonical JSON while it holds its default, and present
    (moving the hash) once it does not; the pinned digests above show no stored run moved."""
    from sigmse.config import HASH_NEUTRAL_DEFAULTS

    base = RunConfig(augment=True)
    changed = {"threads": 2, "augment_translate": 2, "tta_flip": True}
    assert set(changed) == set(HASH_NEUTRAL_DEFAULTS)
    for name, value in changed.items():
        assert f'"{name}"' not in base.canonical_json()
        assert base.with_(**{name: HASH_NEUTRAL_DEFAULTS[name]}).hash == base.hash
        other = base.with_(**{name: value})
        assert f'"{name}":' in other.canonical_json() and other.hash != base.hash
