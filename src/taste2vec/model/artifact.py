"""Save and load a trained model as a directory.

Layout (all plain files, readable without taste2vec)::

    config.json        architecture, metric and family names, text model id, versions
    model.safetensors  the network weights
    scaler.json        the fitted metric scaler
    vocab.json         the sensory tower's fitted word vocabulary (terms + IDF)
    lexicon.json       the lexicon version the model was trained with
    data.json          fingerprint and counts of the training data
    metrics.json       training and validation metrics

Saving writes to a temporary sibling directory and renames it into place, so a
crash never leaves a half-written model where a loader would find it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from taste2vec import __version__
from taste2vec.errors import ArtifactError
from taste2vec.model.network import NetworkConfig, Taste2VecNet
from taste2vec.model.scaler import MetricScaler
from taste2vec.model.vocab import SensoryVocabulary

# 2: per-source scalers, the decodable block (readings, family evidence, slack) and
#    residual heads (issue 10). Format-1 models are refused with a retrain hint.
FORMAT_VERSION = 2
REQUIRED_FILES = ("config.json", "model.safetensors", "scaler.json", "vocab.json", "lexicon.json")


def save_artifact(
    path: Path,
    net: Taste2VecNet,
    scaler: MetricScaler,
    vocab: SensoryVocabulary,
    config: dict[str, Any],
    lexicon_version: str,
    data_info: dict[str, Any],
    metrics: dict[str, Any],
) -> None:
    """Write the model directory atomically (replacing an existing one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        scaler.save(tmp / "scaler.json")
        vocab.save(tmp / "vocab.json")
        full_config = {
            "format_version": FORMAT_VERSION,
            "taste2vec_version": __version__,
            "network": net.cfg.to_dict(),
            **config,
        }
        _write_json(tmp / "config.json", full_config)
        _write_json(tmp / "lexicon.json", {"version": lexicon_version})
        _write_json(tmp / "data.json", data_info)
        _write_json(tmp / "metrics.json", metrics)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_config(path: Path) -> dict[str, Any]:
    """Validate that ``path`` is a complete model directory and return its config."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"no model at {path}; train one with: taste2vec train --out {path}")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ArtifactError(f"model directory {path} is incomplete (missing {missing}); retrain")
    config = read_json(path / "config.json")
    if config.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"model {path} has format {config.get('format_version')}, this taste2vec reads "
            f"format {FORMAT_VERSION} (format 2 added per-source scales and the decodable "
            f"block); retrain with: taste2vec train --out {path}"
        )
    return config


def load_network(
    path: Path, ancestry: torch.Tensor, node_family: torch.Tensor
) -> tuple[Taste2VecNet, MetricScaler, SensoryVocabulary]:
    """Rebuild the network from ``config.json`` and load its weights."""
    config = read_config(path)
    try:
        cfg = NetworkConfig(**config["network"])
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"network config in {path} is not readable: {exc}; retrain") from exc
    net = Taste2VecNet(cfg, ancestry, node_family)
    try:
        state = load_file(str(Path(path) / "model.safetensors"))
        net.load_state_dict(state, strict=True)
    except (RuntimeError, OSError) as exc:
        raise ArtifactError(f"weights in {path} do not match the network: {exc}") from exc
    net.eval()
    vocab = SensoryVocabulary.load(Path(path) / "vocab.json")
    if vocab.size != cfg.n_words:
        raise ArtifactError(f"vocabulary in {path} does not match the network; retrain")
    return net, MetricScaler.load(Path(path) / "scaler.json"), vocab


def read_json(path: Path) -> dict[str, Any]:
    """Read one JSON object file of an artifact, with an ArtifactError on failure."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} should hold a JSON object")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def weights_version(path: Path) -> str:
    """A short content hash of the weights: identifies a trained model version."""
    import hashlib

    h = hashlib.sha256()
    with open(Path(path) / "model.safetensors", "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]
