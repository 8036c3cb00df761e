"""The results store: one JSON record per run at ``<results_dir>/<profile>/<config hash>.json``, written atomically.

A record holds the full config, the history, the metrics and the provenance, so every number in the book traces to
its run. A write is a temporary file renamed into place, so a killed run leaves no record or a complete one, and a
restarted sweep skips what exists. Merging stores is copying their files into one folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from sigmse.config import IdentifiedConfig, config_from_dict
from sigmse.provenance import run_provenance
from sigmse.unification.config import unification_config_from_dict

__all__ = ["SCHEMA_VERSION", "record_path", "read_record", "write_record", "validate_record",
           "validate_unification_record", "envelope_problems", "load_records", "new_record"]

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "hash", "profile", "config", "status", "history", "metrics", "provenance")
STATUSES = ("ok", "diverged", "failed")


def record_path(config: IdentifiedConfig, profile: str, results_dir: str | Path = "results") -> Path:
    """Where the record of ``config`` under ``profile`` lives: ``<results_dir>/<profile>/[<folder>/]<hash>.json``,
    with the config class's ``record_folder`` (empty for a :class:`~sigmse.config.RunConfig`)."""
    return Path(results_dir) / profile / config.record_folder / f"{config.hash}.json"


def envelope_problems(record: Any, expected_hash: str | None,
                      parse_config: Callable[[Any], Any]) -> tuple[list[str], Any]:
    """The problems every record type checks (keys, schema, status, a failed record's error, a config that
    ``parse_config`` accepts, its hash against the record's and the file name's), and the parsed config or ``None``."""
    if not isinstance(record, dict):
        return [f"record is a {type(record).__name__}, not an object"], None
    problems = [f"missing key {key!r}" for key in REQUIRED_KEYS if key not in record]
    if problems:
        return problems, None
    if record["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version {record['schema_version']!r}, expected {SCHEMA_VERSION}")
    if record["status"] not in STATUSES:
        problems.append(f"status {record['status']!r} is not one of {', '.join(STATUSES)}")
    error = record.get("error")
    if record["status"] == "failed" and not (isinstance(error, dict) and isinstance(error.get("type"), str)
                                             and isinstance(error.get("message"), str)):
        problems.append("a 'failed' record has no error.type and error.message")
    config = None
    try:
        config = parse_config(record["config"])
    except (TypeError, ValueError) as error:
        problems.append(f"config does not validate: {error}")
    else:
        if config.hash != record["hash"]:
            problems.append(f"hash {record['hash']!r} does not match its config ({config.hash})")
    if expected_hash is not None and record.get("hash") != expected_hash:
        problems.append(f"hash {record.get('hash')!r} does not match the file name ({expected_hash})")
    return problems, config


def validate_record(record: Any, expected_hash: str | None = None) -> list[str]:
    """Problems with a training-run record, as sentences; an empty list means it is valid."""
    problems, _ = envelope_problems(record, expected_hash, config_from_dict)
    if isinstance(record, dict) and record.get("status") == "ok" and "test_acc" not in record.get("metrics", {}):
        problems.append("an 'ok' record has no metrics.test_acc")
    return problems


def validate_unification_record(record: Any, expected_hash: str | None = None) -> list[str]:
    """Problems with a unification record (:mod:`sigmse.unification.train`), as sentences; empty means valid.
    An 'ok' record carries the test metrics of its method's outputs."""
    problems, config = envelope_problems(record, expected_hash, unification_config_from_dict)
    if config is not None and record["status"] == "ok":
        needed = ["test_acc"] * config.classifies + [f"test_rmse_{config.targets[0]}"] * config.regresses
        problems += [f"an 'ok' record has no metrics.{key}" for key in needed if key not in record["metrics"]]
    return problems


def read_record(path: Path, validate: Callable[..., list[str]] | None = None) -> dict[str, Any] | None:
    """The record at ``path``; ``None`` if absent or damaged (unreadable, not JSON, or with problems that
    ``validate(record, expected_hash=...)`` lists, default :func:`validate_record`). A damaged record is reported
    and moved to ``<hash>.json.corrupt`` (or ``.corrupt-2``, ...), never deleted, so the run trains again; in a
    read-only folder it stays, with the warning.
    """
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        problems = (validate or validate_record)(record, expected_hash=path.stem)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems = [str(error)]
    except (TypeError, KeyError, AttributeError, ValueError) as error:  # a validator tripped on a strange shape
        problems = [f"unexpected structure ({type(error).__name__}: {error})"]
    if not problems:
        return record
    aside = _free_name(path.with_suffix(".json.corrupt"))
    try:
        os.replace(path, aside)
    except OSError as error:
        warnings.warn(f"damaged result record {path} ({problems[0]}); could not move it aside ({error}), so it "
                      "is left in place and the run counts as missing", RuntimeWarning, stacklevel=2)
        return None
    warnings.warn(f"corrupt result record {path} ({problems[0]}); moved to {aside.name} and will rerun",
                  RuntimeWarning, stacklevel=2)
    return None


def _free_name(path: Path) -> Path:
    """``path`` if nothing is there, else ``path-2``, ``path-3``, ...: an earlier damaged copy is kept too."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write ``record`` to ``path`` atomically (temporary file + rename), as compact JSON: the per-epoch histories
    are most of a record, and a profile's records are committed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(record, stream, sort_keys=True, separators=(",", ":"), allow_nan=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def new_record(config: IdentifiedConfig, result: Mapping[str, Any], *, profile: str, device: str,
               wall_seconds: float | None = None, **fields: Any) -> dict[str, Any]:
    """The record of one finished run: the envelope (schema, hash, profile, config), the trainer's ``result``, any
    extra ``fields``, and the :func:`~sigmse.provenance.run_provenance` of ``device`` (with ``wall_seconds``)."""
    info = run_provenance(device) | ({} if wall_seconds is None else {"wall_seconds": wall_seconds})
    return {"schema_version": SCHEMA_VERSION, "hash": config.hash, "profile": profile, "config": config.to_dict(),
            **fields, **result, "provenance": info}


def load_records(configs: Iterable[IdentifiedConfig], *, profile: str, results_dir: str | Path = "results",
                 validate: Callable[..., list[str]] | None = None) -> list[dict[str, Any] | None]:
    """The stored records of ``configs`` (``None`` where a run is missing), checked with ``validate``."""
    return [read_record(record_path(config, profile, results_dir), validate) for config in configs]
