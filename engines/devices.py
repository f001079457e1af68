"""Which torch devices exist here, and clear reasons when one asked for does not."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    """One choice for the device menu: ``available`` False comes with the reason why."""

    name: str
    label: str
    available: bool
    reason: str = ""


def cuda_unavailable_reason() -> str:
    """Why CUDA cannot be used here, or "" when it can."""
    if torch.version.cuda is None:
        return (
            f"this torch build ({torch.__version__}) has no CUDA support; "
            "install a CUDA build of torch to train on a GPU"
        )
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return "no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)"
    return ""


def available_devices() -> list[DeviceInfo]:
    """CPU plus every CUDA device; with no GPU, a disabled CUDA entry that says why."""
    devices = [DeviceInfo("cpu", "CPU", True)]
    reason = cuda_unavailable_reason()
    if reason:
        devices.append(DeviceInfo("cuda", "CUDA", False, reason))
        return devices
    for index in range(torch.cuda.device_count()):
        name = torch.cuda.get_device_name(index)
        devices.append(DeviceInfo(f"cuda:{index}", f"CUDA {index}: {name}", True))
    return devices


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn "cpu", "cuda" or "cuda:N" into a torch.device, or raise ValueError saying why not."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from error
    if resolved.type == "cpu":
        return resolved
    if resolved.type != "cuda":
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    reason = cuda_unavailable_reason()
    if reason:
        raise ValueError(f"device {str(device)!r} cannot be used: {reason}")
    count = torch.cuda.device_count()
    if resolved.index is not None and resolved.index >= count:
        raise ValueError(
            f"device {str(device)!r} does not exist: {count} CUDA device(s) visible "
            f"(cuda:0..cuda:{count - 1})"
        )
    return resolved
