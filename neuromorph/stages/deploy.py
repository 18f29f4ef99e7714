"""Deployment artefacts of a quantized network (``neuromorph deploy``).

The stage finds the backend of the QDIR's target (``quantization.json``'s ``device``) and lets
it write its artefacts; for the Xylo devices that is the Rockpool spec (``spec.npz`` and a
readable ``spec.json``), NIR graphs of the float and the quantized network and, when SynSense's
real ``samna`` is installed, the hardware configuration
(:func:`neuromorph.backends.xylo.deployment.write_deployment`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from neuromorph.backends.base import Backend, BackendError, backend_for_device


def qdir_device(qdir: Path) -> str:
    """The device name a QDIR was quantized for (its report's ``device``, else the stored target)."""
    rep = qdir / "quantization.json"
    if rep.is_file():
        device = json.loads(rep.read_text()).get("device")
        if device:
            return str(device)
    from neuromorph.quant.fakequant import QDIR_NETWORK, load_quantized

    if (qdir / QDIR_NETWORK).is_file():
        return load_quantized(qdir / QDIR_NETWORK).target
    raise FileNotFoundError(f"{qdir} holds neither quantization.json nor {QDIR_NETWORK} "
                            "(expected the output of 'neuromorph quantize')")


def qdir_backend(qdir: Path) -> Backend:
    """The backend serving the QDIR's device."""
    return backend_for_device(qdir_device(qdir))


def deploy(qdir: Union[str, Path], out: Union[str, Path], *, hardware: bool = False) -> dict:
    """Write the deployment artefacts of ``qdir`` into ``out``; returns a summary dict."""
    qdir, out = Path(qdir), Path(out)
    try:
        backend = qdir_backend(qdir) if qdir.is_dir() else None
    except (BackendError, FileNotFoundError):
        backend = None
    if backend is None or backend.load_deployable(qdir) is None:
        raise FileNotFoundError(f"{qdir} holds no spec.npz: quantize for a Xylo target first "
                                f"(e.g. --target xylo-audio-v2)")
    return backend.deploy(qdir, out, hardware=hardware)
