"""Trained weights on disk: ``.safetensors`` (default) or a ``.pt`` state_dict, each with a JSON
sidecar holding the engine config, so a weights file alone is enough to rebuild the engine.

Why two formats: safetensors holds only tensors and can never run code; ``.pt`` is what PyTorch
users already have. A ``.pt`` file is a pickle, and a pickle from a stranger can run code when
it is read, so it is loaded with ``torch.load(..., weights_only=True)`` only, which refuses
anything but tensors and plain containers.

Writes are atomic: the weights and their sidecar are each written whole to a temporary file in
the same folder, and only then renamed into place (``engines.atomic_files``), so a crash or a
full disk never leaves half a file, and a failed write leaves the previous pair as it was. Every problem reading a file becomes a
``WeightsFileError`` whose message names the file and the problem.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from engines.atomic_files import atomic_write_files
from engines.config import EngineConfig
from engines.engine import RecurrentEngine, build_engine
from engines.plain_weights import PlainStateError, check_nonlinearity, from_plain_state
from engines.regular_files import NotRegularFileError, check_regular_file

FORMAT_NAME = "sequence-memory-playground/weights"
FORMAT_VERSION = 1
SUFFIXES = (".safetensors", ".pt")
DEFAULT_SUFFIX = ".safetensors"


class WeightsFileError(ValueError):
    """A weights file that cannot be used; ``str(error)`` names the file and the problem."""

    def __init__(self, path: os.PathLike | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def sidecar_path(path: os.PathLike | str) -> Path:
    """The JSON sidecar of a weights file: same folder, same stem, ``.json``."""
    return Path(path).with_suffix(".json")


def weights_path(path: os.PathLike | str) -> Path:
    """``path`` with the default suffix added when it has none; unknown suffixes are refused."""
    path = Path(path)
    if path.suffix == "":
        return path.with_name(path.name + DEFAULT_SUFFIX)
    if path.suffix.lower() not in SUFFIXES:
        raise WeightsFileError(
            path,
            f"unknown weights suffix {path.suffix!r}; use {' or '.join(SUFFIXES)}",
        )
    return path


# --- writing ---------------------------------------------------------------------------------
def weights_files(engine: RecurrentEngine, path: os.PathLike | str) -> dict[Path, bytes]:
    """What ``save_weights`` writes, in memory: ``{sidecar: its JSON, weights file: its
    bytes}`` (the sidecar first: the order the pair is renamed into place). For writers that
    add files of their own to the same atomic write (``atomic_write_files``)."""
    path = weights_path(path)
    state = {
        name: tensor.detach().to("cpu").contiguous().clone()
        for name, tensor in engine.state_dict().items()
    }
    if path.suffix.lower() == ".pt":
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
    else:
        from safetensors.torch import save

        data = save(state, metadata={"format": FORMAT_NAME, "version": str(FORMAT_VERSION)})
    sidecar = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "weights": path.name,
        "engine": engine.config.to_dict(),
        "torch": torch.__version__,
    }
    return {
        sidecar_path(path): (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode(),
        path: data,
    }


def save_weights(engine: RecurrentEngine, path: os.PathLike | str) -> Path:
    """Save ``engine``'s weights by ``path``'s suffix (``.safetensors`` when it has none)
    and its config in the JSON sidecar, as one write: both are written whole before either
    replaces anything, so a failure (a full disk at the sidecar) leaves the previous pair as
    it was, or nothing where there was none, and weights never stand without their sidecar.
    An OSError names the file that could not be written. Returns the weights file's path."""
    path = weights_path(path)
    files = weights_files(engine, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_files(files.items())
    return path


# --- reading ---------------------------------------------------------------------------------
def read_sidecar(path: os.PathLike | str) -> EngineConfig:
    """The engine config from ``path``'s sidecar, or WeightsFileError saying what is wrong."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise WeightsFileError(
            path,
            f"its config sidecar {sidecar.name} is missing; a weights file needs the JSON file "
            "written beside it (same name, .json) to know which engine to build",
        )
    try:
        text = sidecar.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WeightsFileError(sidecar, f"cannot read the config sidecar: {error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise WeightsFileError(
            sidecar,
            f"the config sidecar is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})",
        ) from error
    if not isinstance(data, dict):
        raise WeightsFileError(
            sidecar, f"the config sidecar must hold a JSON object, got {type(data).__name__}"
        )
    if data.get("format") != FORMAT_NAME:
        raise WeightsFileError(
            sidecar,
            f"not a weights sidecar of this program (format {data.get('format')!r}, "
            f"expected {FORMAT_NAME!r})",
        )
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise WeightsFileError(
            sidecar,
            f"unsupported sidecar version {version!r}; this program reads version {FORMAT_VERSION}",
        )
    try:
        return EngineConfig.from_dict(data.get("engine"))
    except (ValueError, TypeError) as error:
        raise WeightsFileError(sidecar, f"bad engine config: {error}") from error


def refused_global(error: Exception) -> str:
    """What a pickle refused by ``weights_only=True`` asked to build (", it asks for
    posix.system"), or "". Only that: torch's own message goes on to suggest loading the file
    with ``weights_only=False``, which is the one thing a stranger's file must not get."""
    import re

    found = re.search(r"GLOBAL\s+([\w.]+)", str(error))
    return f"; it asks for {found.group(1)}" if found else ""


def _read_tensors(path: Path) -> Mapping[str, object]:
    if path.suffix.lower() == ".pt":
        try:
            # weights_only=True: tensors and plain containers only; a pickle that would build
            # any other object (and so could run code) is refused before anything runs.
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            raise WeightsFileError(
                path,
                "refused to load: the pickle holds something other than tensors, so it could "
                f"run code when read (it is not a plain state_dict){refused_global(error)}.",
            ) from error
        except Exception as error:  # torch raises many types for a corrupt file
            raise WeightsFileError(
                path, f"not a readable .pt file ({type(error).__name__}: {error})"
            ) from error
        if not isinstance(state, Mapping):
            raise WeightsFileError(
                path, f"holds a {type(state).__name__}, not a plain state_dict of tensors"
            )
        return state
    from safetensors.torch import load

    try:
        return load(path.read_bytes())
    except OSError as error:
        raise WeightsFileError(path, f"cannot read the file: {error}") from error
    except Exception as error:  # safetensors raises its own SafetensorError
        raise WeightsFileError(
            path, f"not a readable .safetensors file ({type(error).__name__}: {error})"
        ) from error


def _check_state(path: Path, state: Mapping[str, object], expected: dict) -> dict:
    not_tensors = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors or not all(isinstance(k, str) for k in state):
        raise WeightsFileError(
            path,
            "not a plain state_dict of tensors (entries that are not tensors: "
            f"{', '.join(not_tensors[:5]) or 'non-string keys'})",
        )
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected tensors {', '.join(unexpected)}")
        raise WeightsFileError(path, f"does not match its config: {'; '.join(parts)}")
    for name, reference in expected.items():  # the engine's order: first layer first
        tensor, want = state[name], tuple(reference.shape)
        if tuple(tensor.shape) != want:
            raise WeightsFileError(
                path,
                f"tensor {name} has shape {tuple(tensor.shape)}, but the config needs {want}",
            )
        if not tensor.is_floating_point():
            raise WeightsFileError(
                path, f"tensor {name} has dtype {tensor.dtype}; weights must be floating point"
            )
        if not bool(torch.isfinite(tensor).all()):
            raise WeightsFileError(path, f"tensor {name} contains NaN or infinite values")
    return dict(state)


@dataclass(frozen=True)
class LoadedWeights:
    """A weights file read and checked: the engine ``config``, the ``state`` dict ready for
    ``RecurrentEngine.load_state_dict`` (``core.*``, ``readout.*``, on the CPU), where the
    config came from (``source``: "sidecar" or "plain torch"), and ``notes``, sentences the
    user should see (a fresh read-out, an assumed nonlinearity, converted dtypes...)."""

    path: Path
    config: EngineConfig
    state: dict[str, torch.Tensor]
    source: str
    notes: tuple[str, ...] = ()
    readout_from_file: bool = True

    def build(self, device: str | torch.device = "cpu") -> RecurrentEngine:
        """The engine with these weights on ``device``."""
        # A fixed seed: the initial weights are overwritten, and the global RNG is left alone.
        engine = build_engine(self.config, device=device, seed=0)
        engine.load_state_dict(self.state, strict=True)
        return engine


def read_weights_file(
    path: os.PathLike | str, *, output_size: int | None = None, nonlinearity: str = "tanh"
) -> LoadedWeights:
    """Read a weights file: one of ours (its JSON sidecar says which engine), or, with no
    sidecar, the ``state_dict`` of a plain ``torch.nn.RNN/LSTM/GRU`` with or without an
    ``nn.Linear`` read-out, its engine inferred from the tensor names and shapes
    (``engines.plain_weights``). A JSON file beside it that is not our sidecar is ignored.

    ``output_size`` sizes the fresh read-out made when a plain file has no ``nn.Linear``
    (default 1; the result's notes say it is fresh). ``nonlinearity`` is what a plain RNN used:
    the shapes cannot tell, tanh is assumed, and ``"relu"`` (or a file whose metadata says
    ReLU) is refused, since the engines' RNN is tanh.

    Raises WeightsFileError (a ValueError) naming the file and the problem.
    """
    nonlinearity = check_nonlinearity(nonlinearity)
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise WeightsFileError(
            path, f"unknown weights suffix {path.suffix!r}; use {' or '.join(SUFFIXES)}"
        )
    _check_regular(path, "weights file")
    sidecar = sidecar_path(path)
    if sidecar.exists():  # a FIFO there would block reading it
        _check_regular(sidecar, "config sidecar")
    notes: list[str] = []
    config = None
    if sidecar.is_file() and not _sidecar_is_ours(sidecar):
        notes.append(f"{sidecar.name} beside it is not this program's sidecar and was ignored")
    elif sidecar.is_file():
        config = read_sidecar(path)
    entries = _read_tensors(path)
    if config is not None:
        state = _check_state(path, entries, build_engine(config, seed=0).state_dict())
        state = {key: tensor.to("cpu") for key, tensor in state.items()}
        return LoadedWeights(path, config, state, "sidecar", tuple(notes))
    metadata = _safetensors_metadata(path)
    if metadata.get("format") == FORMAT_NAME and not sidecar.is_file():
        notes.append(
            f"its config sidecar {sidecar.name} is missing: the engine was read from the "
            "tensor shapes (its initialisation settings are unknown)"
        )
    try:
        plain = from_plain_state(
            entries, output_size=output_size, nonlinearity=nonlinearity, metadata=metadata
        )
    except PlainStateError as error:
        raise WeightsFileError(path, str(error)) from None
    return LoadedWeights(
        path,
        plain.config,
        plain.state,
        "plain torch",
        (*plain.notes, *notes),
        plain.readout_from_file,
    )


def _check_regular(path: Path, what: str) -> None:
    """Refuse a missing file, a folder, a FIFO or a device at once (reading some would block)."""
    try:
        check_regular_file(path, what)
    except NotRegularFileError as error:
        raise WeightsFileError(path, error.problem) from None


def _sidecar_is_ours(sidecar: Path) -> bool:
    """False for a JSON object that is neither tagged with our format nor holds an engine
    (another program's file of the same name); True otherwise, so that ``read_sidecar``
    reports a damaged sidecar of ours."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return True
    if not isinstance(data, dict):
        return True
    return data.get("format") == FORMAT_NAME or ("format" not in data and "engine" in data)


def _safetensors_metadata(path: Path) -> dict:
    """The string metadata in a safetensors header (``{}`` for ``.pt`` or none)."""
    if path.suffix.lower() != ".safetensors":
        return {}
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(min(size, 100_000_000)))
    except (OSError, ValueError):
        return {}
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def load_weights(
    path: os.PathLike | str,
    device: str | torch.device = "cpu",
    *,
    output_size: int | None = None,
    nonlinearity: str = "tanh",
) -> RecurrentEngine:
    """Rebuild the engine saved at ``path`` on ``device``: one of ours, or a plain torch
    state_dict (see ``read_weights_file`` for ``output_size`` and ``nonlinearity``).

    Raises WeightsFileError (a ValueError) naming the file and the problem; a device that is
    not there raises ValueError from ``resolve_device``.
    """
    return read_weights_file(path, output_size=output_size, nonlinearity=nonlinearity).build(device)
