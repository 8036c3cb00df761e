"""Protocol v2's committed pilots in ``results/full2/``: the epochs the ``full2`` profile trains are their answers,
and the pages' pilot sentences say where CIFAR-10 misses the rule. (Every ``full2`` record's validity, the folder's
size and the complete-sweep checks are in ``tests/test_full_results.py``, beside ``full``'s.)"""

from pathlib import Path

import pytest

FULL2 = Path(__file__).resolve().parent.parent / "results" / "full2"
needs_records = pytest.mark.skipif(not any(FULL2.glob("*.json")), reason="no full2 records committed yet")


@needs_records
def test_the_committed_pilots_give_the_epochs_full2_trains_with_cifar10_on_its_fallback():
    """The pre-registration's budgets are the committed pilots' answers: 10 clean and 20 noise epochs on MNIST and
    Fashion-MNIST by the rules; on CIFAR-10 no candidate passes either rule (10 -> 20 epochs moves softmax CE's
    validation accuracy by more than 0.5 pp; it fits no flipped labels at 10 or 20), so both train the
    fallback, 10 epochs, and the line says the rule is not met."""
    from sigmse.report.pilots import AGREE, pilot_agreement
    from sigmse.runs.profiles import get_profile

    status, lines = pilot_agreement(get_profile("full2"), FULL2.parent)
    assert status == AGREE, lines
    cifar = [line for line in lines if line.startswith("cifar10")]
    assert len(cifar) == 2 and all("fallback, 10 epochs, stands, as the" in line and line.endswith("the rule is not met")
                                   for line in cifar)


@needs_records
def test_a_pilot_without_its_fallback_is_undecided_and_another_fallback_differs():
    """On the same committed CIFAR-10 pilots, a profile naming no fallback is undecided (nothing passes), and one
    whose fallback is not the epochs its budget trains must change one or the other."""
    from dataclasses import replace

    from sigmse.report.pilots import DIFFER, UNDECIDED, pilot_agreement
    from sigmse.runs.profiles import EpochPilot, get_profile

    full2 = get_profile("full2")
    pilot = full2.epoch_pilot["cifar10"]
    for fallback, expected in ((None, UNDECIDED), (20, DIFFER)):
        changed = replace(full2, epoch_pilot={**full2.epoch_pilot,
                                              "cifar10": EpochPilot(pilot.lr, pilot.candidates, fallback=fallback)})
        status, lines = pilot_agreement(changed, FULL2.parent)
        assert status == expected, lines


@needs_records
def test_the_pilot_sentences_say_cifar10_trains_unconverged_and_cannot_show_memorisation():
    """Read with the budgets the full2 pages' runs train (10 clean epochs everywhere, 20 noise epochs on MNIST and
    Fashion-MNIST, 10 on CIFAR-10), the pilot sentences of the accuracy and noise pages say, beside CIFAR-10 only,
    that its runs are not converged by the pilot's rule and that its noise runs cannot show memorisation."""
    from sigmse.report.pilots import epoch_pilot_text, noise_pilot_text
    from sigmse.runs.experiments import experiment_configs, load_record
    from sigmse.runs.profiles import get_profile

    full2 = get_profile("full2")

    def stored(experiment):
        configs = experiment_configs(experiment, full2)
        return [record for record in (load_record(c, "full2", FULL2.parent) for c in configs) if record is not None]

    epoch_pilot, noise_pilot = stored("epoch_pilot"), stored("noise_pilot")
    clean = epoch_pilot_text(epoch_pilot, "full2", trained={"mnist": 10, "fashion-mnist": 10, "cifar10": 10})
    noisy = noise_pilot_text(noise_pilot, epoch_pilot, "full2",
                             trained={"mnist": 20, "fashion-mnist": 20, "cifar10": 10})
    for text, caveat in ((clean, "not converged"), (noisy, "cannot show that a loss resists memorisation")):
        before, cifar10 = text.split("cifar10:")  # CIFAR-10 is the last dataset of both pilots
        assert caveat in cifar10 and caveat not in before, text
    assert "this page's runs train 10 epochs, so by the pilot's rule they are not converged" in clean
    assert "this page's noise runs train 20 epochs; fashion-mnist" in noisy
