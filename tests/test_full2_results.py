"""Protocol v2's committed records in ``results/full2/``: every record validates under its hash, was made under
the ``full2`` profile with the full data and 1 torch thread, and the folder stays under 25 MB."""

import json
from pathlib import Path

import pytest

from sigmse.runs.experiments import RUN_KINDS

ROOT = Path(__file__).resolve().parent.parent
FULL2 = ROOT / "results" / "full2"
KIND_RECORDS = [(kind, sorted((FULL2 / kind.config_type.record_folder).glob("*.json"))) for kind in RUN_KINDS]
RECORDS = [path for _, paths in KIND_RECORDS for path in paths]
MAX_BYTES = 25_000_000  # issue 22: each profile's records stay under 25 MB
needs_records = pytest.mark.skipif(not RECORDS, reason="no full2 records committed yet")


@needs_records
def test_every_committed_record_validates_under_its_hash_with_full_data_and_one_thread():
    problems = {}
    for kind, paths in KIND_RECORDS:
        for path in paths:
            record = json.loads(path.read_text())
            found = kind.validate(record, expected_hash=path.stem)
            config = record["config"]
            if record.get("profile") != "full2":
                found.append(f"profile {record.get('profile')!r}, not 'full2'")
            if config.get("train_subset") is not None or config.get("test_subset") is not None:
                found.append("made on a subset")
            if config.get("threads") != 1 or record["provenance"].get("torch_threads") != 1:
                found.append(f"threads {config.get('threads')!r} / torch {record['provenance'].get('torch_threads')!r}")
            if found:
                problems[path.relative_to(FULL2).as_posix()] = found
    assert not problems


@needs_records
def test_the_folder_stays_under_25_mb():
    size = sum(path.stat().st_size for path in RECORDS)
    assert size < MAX_BYTES, f"results/full2/ holds {size / 1e6:.1f} MB"


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
