"""Checkpoints: one ``.npz`` file that reproduces a run exactly.

Contents (all plain arrays, loaded with ``allow_pickle=False``):

=====================  ==========================================================
``format``             str, ``"rnnlab-checkpoint"``
``format_version``     int, :data:`FORMAT_VERSION`
``experiment``         str, the experiment id (registry key)
``config_json``        str, JSON of the hyperparameters (``experiment.config``)
``seed``, ``step``     int
``rng_state_json``     str, JSON of ``experiment.rng.bit_generator.state``
``state/<key>``        arrays of ``experiment.state_dict()`` (``param.*``, ``optim.*``, ``extra.*``)
``history/<m>/<part>`` the bounded metric history (:meth:`MetricHistory.to_arrays`)
=====================  ==========================================================

API::

    save_checkpoint(path, experiment, history=None) -> Path     # atomic
    experiment, history = load_checkpoint(path)                 # rebuilt from the registry
    history = load_into(path, experiment)                       # into an existing experiment

Writing is atomic: the file is written to a temporary file in the same folder,
fsynced and moved over ``path`` with ``os.replace``, so a crash mid-save never
damages the previous checkpoint; the file gets the usual mode (0666 minus the
umask, 0644 usually), and temporary files left by a save that was killed are
deleted by the next save into that folder. A model with NaN/inf parameters is
never saved. Reading checks the file (a regular file, at most
:data:`MAX_CHECKPOINT_BYTES`) and every member's size and .npy header before
reading any array, and never unpickles. Loading validates everything before changing
anything; any problem raises :class:`CheckpointError` (a ValueError) with one
clear line.
"""
from __future__ import annotations

import glob
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from core.experiments import registry
from core.experiments.base import Experiment
from core.history import MetricHistory
from core.nn.legacy import upgrade_param_names

FORMAT = "rnnlab-checkpoint"
FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 4 * 2**30
"""Largest checkpoint read (4 GiB, file and uncompressed arrays alike)."""
_REQUIRED = ("format", "format_version", "experiment", "config_json", "seed", "step", "rng_state_json")

__all__ = ["CheckpointError", "save_checkpoint", "remove_stale_temps", "check_finite", "MAX_CHECKPOINT_BYTES", "load_checkpoint", "load_into", "read_checkpoint",
           "Checkpoint", "FORMAT_VERSION", "build_from", "experiment_class", "stored_config"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another experiment or does not fit the model."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _file_mode() -> int:
    """0666 minus the process umask: what ``open()`` would give a new file (0644 with umask 022)."""
    try:  # Linux: read it without changing it (os.umask is process-wide, threads may be creating files)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete leftover ``.<name>.*.tmp`` files of saves into ``path`` that were killed mid-way.

    Returns the paths removed. Called by :func:`save_checkpoint` before it writes.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed


def check_finite(experiment: Experiment) -> None:
    """Raise CheckpointError if a parameter of ``experiment`` holds NaN or inf values."""
    for k, v in experiment.state_dict().items():
        a = np.asarray(v)
        if k.startswith("param.") and np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            raise CheckpointError(f"refusing to save a checkpoint: {k} has {bad} NaN/inf value(s) of {a.size} "
                                  f"(the model diverged; lower learning_rate or use clip)")


def save_checkpoint(path: str | os.PathLike, experiment: Experiment, history: MetricHistory | None = None,
                    replay: Any = None) -> Path:
    """Write ``experiment`` (and ``history``) to ``path`` atomically; returns the path.

    ``replay``: anything with ``events`` (core.replay.RunEvent list) and ``keyframes``
    (core.replay.KeyframeStore), e.g. a core.run.Run: saved too, so a loaded run can be replayed.

    The parent folder is created if needed; leftovers of saves killed mid-way
    (``.<name>.*.tmp`` beside ``path``) are deleted first. The file gets the
    mode of any new file (0666 minus the umask: 0644 usually). Raises
    CheckpointError (nothing written) if a parameter is NaN or inf, OSError if
    it cannot be written.
    """
    path = Path(path)
    check_finite(experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "experiment": np.array(experiment.id),
        "config_json": np.array(json.dumps({k: _jsonable(v) for k, v in experiment.config.items()}, sort_keys=True)),
        "seed": np.array(experiment.seed, dtype=np.int64),
        "step": np.array(experiment.step, dtype=np.int64),
        "rng_state_json": np.array(json.dumps(experiment.rng.bit_generator.state)),
    }
    for k, v in experiment.state_dict().items():
        arrays[f"state/{k}"] = np.asarray(v)
    if history is not None:
        arrays.update(history.to_arrays("history/"))
    if replay is not None:
        from core.replay import events_to_jsonl

        arrays["events_jsonl"] = np.array(events_to_jsonl(list(replay.events)))
        arrays.update(replay.keyframes.to_arrays("keyframes/"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable too (POSIX); harmless where unsupported
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


class Checkpoint:
    """The parsed contents of a checkpoint file (nothing applied to any model yet)."""

    def __init__(self, path: Path, experiment_id: str, config: dict, seed: int, step: int,
                 rng_state: dict, state: dict[str, np.ndarray], history: MetricHistory):
        self.path = path
        self.experiment_id = experiment_id
        self.config = config
        self.seed = seed
        self.step = step
        self.rng_state = rng_state
        self.state = state
        self.history = history


def _member_sizes(zf: zipfile.ZipFile, where: str) -> None:
    """Check every member of an .npz from its headers alone, before anything is read.

    Each member must be a .npy array whose header (shape, dtype) accounts for its
    uncompressed size (``ZipInfo.file_size``), with no Python objects (pickles),
    and the members together must stay under :data:`MAX_CHECKPOINT_BYTES`.
    Reading a member afterwards is bounded by its checked size.
    """
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if total > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{where} is too large to load: its arrays hold more than "
                                  f"{MAX_CHECKPOINT_BYTES / 2**30:g} GiB uncompressed (the limit)")
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where} is not an rnnlab checkpoint (member {info.filename!r} is not a .npy array)")
        with zf.open(info) as m:
            version = np.lib.format.read_magic(m)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(m, max_header_size=10_000)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(m, max_header_size=10_000)
            header = m.tell()
        if dtype.hasobject:
            raise CheckpointError(f"{where}: member {info.filename!r} holds Python objects; "
                                  f"checkpoints hold plain arrays only (pickles are never loaded)")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        if header + nbytes != info.file_size:
            raise CheckpointError(f"{where} is corrupt: member {info.filename!r} declares shape {shape} of {dtype} "
                                  f"({nbytes:,} bytes), but holds {info.file_size - header:,} bytes")


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and parse ``path`` without touching any model. Raises CheckpointError.

    Refuses anything but a regular file, files over :data:`MAX_CHECKPOINT_BYTES`,
    members whose .npy headers do not match their sizes (checked before any
    array is read) and parameters holding NaN or inf. Never unpickles.
    """
    path = Path(path)
    where = repr(str(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {where} does not exist") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint {where} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO, device or socket"
        raise CheckpointError(f"checkpoint {where} is not a file ({what}); expected an .npz file")
    if st.st_size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {where} is too large: {st.st_size / 2**30:.2f} GiB, "
                              f"the limit is {MAX_CHECKPOINT_BYTES / 2**30:g} GiB")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CheckpointError(f"checkpoint {where} cannot be read: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise CheckpointError(f"checkpoint {where} is not a regular file; expected an .npz file")
            magic = f.read(4)
            if magic != b"PK\x03\x04":
                what = "empty" if not magic else "not an .npz archive"
                raise CheckpointError(f"{where} is not an rnnlab checkpoint ({what})")
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                _member_sizes(zf, where)
                arrays = {}
                for name in zf.namelist():
                    with zf.open(name) as m:
                        arrays[name[:-len(".npy")]] = np.lib.format.read_array(m, allow_pickle=False)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError, RuntimeError,
            NotImplementedError, SyntaxError, TypeError, OverflowError, MemoryError) as e:
        raise CheckpointError(f"{where} is not a readable rnnlab checkpoint (corrupt or truncated .npz: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise CheckpointError(f"{str(path)!r} is not an rnnlab checkpoint: missing {', '.join(missing)}")
    try:
        fmt = str(arrays["format"])
        version = int(arrays["format_version"])
        exp_id = str(arrays["experiment"])
        config = json.loads(str(arrays["config_json"]))
        seed = int(arrays["seed"])
        step = int(arrays["step"])
        rng_state = json.loads(str(arrays["rng_state_json"]))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{str(path)!r}: malformed checkpoint metadata ({e})") from None
    if fmt != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not an rnnlab checkpoint (format {fmt!r})")
    if version > FORMAT_VERSION or version < 1:
        raise CheckpointError(f"{str(path)!r} has checkpoint format version {version}; "
                              f"this rnnlab reads versions 1..{FORMAT_VERSION}")
    if not isinstance(config, dict) or not isinstance(rng_state, dict):
        raise CheckpointError(f"{str(path)!r}: malformed checkpoint metadata (config or RNG state is not a mapping)")
    state = {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}
    try:  # written before the LSTM/GRU parameters took the names Wxh/Whh/bh: read them under the new names
        state = upgrade_param_names(state)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {where}: {exc}") from None
    for k, v in state.items():
        if k.startswith("param.") and np.issubdtype(v.dtype, np.inexact) and not np.isfinite(v).all():
            bad = int(v.size - np.count_nonzero(np.isfinite(v)))
            raise CheckpointError(f"checkpoint {where} cannot be used: {k} holds {bad} NaN/inf value(s) of "
                                  f"{v.size} (saved from a diverged model)")
    try:
        history = MetricHistory.from_arrays(arrays, "history/")
    except ValueError as e:
        raise CheckpointError(f"{str(path)!r}: {e}") from None
    ck = Checkpoint(path, exp_id, config, seed, step, rng_state, state, history)
    ck.arrays = {k: v for k, v in arrays.items() if k.startswith("keyframes/") or k == "events_jsonl"}
    return ck


def load_replay(ck_or_path: Any) -> tuple[list, Any]:
    """The events (core.replay.RunEvent list) and keyframes (core.replay.KeyframeStore) saved in a checkpoint
    (empty when it has none). Raises CheckpointError for malformed ones."""
    from core.replay import KeyframeStore, events_from_jsonl

    ck = ck_or_path if isinstance(ck_or_path, Checkpoint) else read_checkpoint(ck_or_path)
    arrays = getattr(ck, "arrays", {})
    try:
        events = events_from_jsonl(str(arrays["events_jsonl"][()])) if "events_jsonl" in arrays else []
        keyframes = KeyframeStore.from_arrays(arrays, "keyframes/")
    except ValueError as e:
        raise CheckpointError(f"checkpoint {str(ck.path)!r}: {e}") from None
    return events, keyframes


def _validate_against(ck: Checkpoint, experiment: Experiment) -> None:
    """Raise CheckpointError unless ``ck`` fits ``experiment`` (id, keys, shapes, RNG kind)."""
    where = repr(str(ck.path))
    if ck.experiment_id != experiment.id:
        raise CheckpointError(f"checkpoint {where} is for experiment {ck.experiment_id!r}, not {experiment.id!r}")
    current = experiment.state_dict()
    params_now = {k: v for k, v in current.items() if k.startswith("param.")}
    params_ck = {k: v for k, v in ck.state.items() if k.startswith("param.")}
    missing = sorted(set(params_now) - set(params_ck))
    extra = sorted(set(params_ck) - set(params_now))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"] if extra else [])
        raise CheckpointError(f"checkpoint {where} does not match the model: {'; '.join(parts)}")
    for k, v in params_now.items():
        s = np.asarray(params_ck[k])
        if s.shape != v.shape:
            raise CheckpointError(f"checkpoint {where}: {k} has shape {s.shape}, the model expects {v.shape} "
                                  f"(was it trained with other structural hyperparameters?)")
        if not np.issubdtype(s.dtype, np.number):
            raise CheckpointError(f"checkpoint {where}: {k} has non-numeric dtype {s.dtype}")
    for k, v in ck.state.items():
        if k in current and np.shape(v) != np.shape(current[k]) and k.startswith("extra."):
            raise CheckpointError(f"checkpoint {where}: {k} has shape {np.shape(v)}, the model expects {np.shape(current[k])}")
    kind = experiment.rng.bit_generator.state.get("bit_generator")
    if ck.rng_state.get("bit_generator") != kind:
        raise CheckpointError(f"checkpoint {where}: RNG state is for {ck.rng_state.get('bit_generator')!r}, "
                              f"the experiment uses {kind!r}")


def _apply(ck: Checkpoint, experiment: Experiment, live: Mapping[str, Any] | None = None) -> None:
    """Validate, then apply ``live`` hyperparameters, load state, RNG and step.

    On any failure the experiment is restored as it was and CheckpointError is raised.
    """
    _validate_against(ck, experiment)
    backup_state = experiment.state_dict()
    backup_rng = experiment.rng.bit_generator.state
    backup_step = experiment.step
    backup_live = {k: experiment.config[k] for k in (live or {})}
    try:
        for name, value in (live or {}).items():  # before the state: switching optimizer resets its state
            if experiment.config.get(name) != value:
                experiment.set_live(name, value)
        experiment.load_state_dict(ck.state)
        experiment.rng.bit_generator.state = ck.rng_state
        experiment.step = ck.step
    except (ValueError, TypeError, KeyError) as e:
        for name, value in backup_live.items():
            if experiment.config.get(name) != value:
                experiment.set_live(name, value)
        experiment.load_state_dict(backup_state)
        experiment.rng.bit_generator.state = backup_rng
        experiment.step = backup_step
        raise CheckpointError(f"checkpoint {str(ck.path)!r} does not fit the model: {e}") from None


def load_checkpoint(path: str | os.PathLike) -> tuple[Experiment, MetricHistory]:
    """Rebuild the experiment stored in ``path`` (registry + stored config and seed),
    load its state, RNG state and step. Returns ``(experiment, history)``
    (an empty history if none was stored).

    Raises CheckpointError for bad files; the experiment's own errors (e.g.
    core.data.DataError when its corpus is gone) propagate as ValueErrors.
    """
    return build_from(read_checkpoint(path))


def experiment_class(ck: Checkpoint) -> type:
    """The registry class of ``ck``'s experiment; CheckpointError if unknown."""
    try:
        return registry.get(ck.experiment_id)
    except ValueError:
        raise CheckpointError(f"checkpoint {str(ck.path)!r} is for unknown experiment {ck.experiment_id!r}") from None


def stored_config(ck: Checkpoint) -> dict:
    """``ck``'s hyperparameters that its experiment still declares (params removed since are dropped)."""
    known = {p.name for p in experiment_class(ck).hyperparams}
    return {k: v for k, v in ck.config.items() if k in known}


def build_from(ck: Checkpoint) -> tuple[Experiment, MetricHistory]:
    """Rebuild the experiment of a parsed checkpoint and load its state: ``(experiment, history)``.

    Its settings are checked against the memory available first (core.memory.check_memory)."""
    from core.memory import check_memory

    cls, config = experiment_class(ck), stored_config(ck)
    check_memory(cls, config)
    experiment = cls(config, seed=ck.seed)
    _apply(ck, experiment)
    return experiment, ck.history


def load_into(path: str | os.PathLike, experiment: Experiment) -> MetricHistory:
    """Load ``path`` into an existing ``experiment`` of the same id and shapes.

    Loads parameters, optimizer and extra state, the RNG state and the step,
    and applies the checkpoint's *live* hyperparameters (learning rate, clip, ...)
    so training continues as it would have. Structural hyperparameters stay the
    experiment's own; if they change array shapes the load is refused.
    Never changes ``experiment`` when it raises CheckpointError. Returns the stored history.
    """
    ck = read_checkpoint(path)
    if ck.experiment_id != experiment.id:
        raise CheckpointError(f"checkpoint {str(ck.path)!r} is for experiment {ck.experiment_id!r}, not {experiment.id!r}")
    live = {}
    for p in type(experiment).hyperparams:
        if p.live and p.name in ck.config:
            try:
                live[p.name] = p.validate(ck.config[p.name])
            except ValueError as e:
                raise CheckpointError(f"checkpoint {str(ck.path)!r}: {e}") from None
    _apply(ck, experiment, live)
    return ck.history
