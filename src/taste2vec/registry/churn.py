"""The churn model in the registry (issue 13): a second registered model,
``taste2vec-churn``, with its own ``champion`` / ``challenger`` aliases and the same audit
log, checksums and verified downloads as the taste model (:class:`ModelRegistry`).

A churn version is a folder with ``churn.json`` (the
:class:`~taste2vec.stream.signals.LogisticChurnModel` document, trained by
``taste2vec.batch.churn``) and ``metrics.json`` (its held-out evaluation, logged as the
run's metrics). :class:`ChurnScorerSource` is what the service hands to the stream reader:
it follows the champion and returns ``None`` (the rule, ``rule-v1``) while none is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from taste2vec.errors import ArtifactError, NotFoundError, Taste2VecError
from taste2vec.registry.checksums import (
    MANIFEST,
    file_sha256,
    manifest_bytes,
    manifest_of,
)
from taste2vec.registry.core import (
    CHAMPION,
    ROOT,
    TAG,
    ModelRegistry,
    VersionInfo,
    _flat_metrics,
    check_alias,
)
from taste2vec.store import Store
from taste2vec.stream.signals import LogisticChurnModel

__all__ = ["CHURN_MODEL_FILE", "CHURN_MODEL_NAME", "ChurnRegistry", "ChurnScorerSource"]

log = logging.getLogger(__name__)

CHURN_MODEL_NAME = "taste2vec-churn"
CHURN_MODEL_FILE = "churn.json"


def churn_version_hash(model_dir: Path) -> str:
    """A short content hash of the model document: identifies a trained churn model."""
    return file_sha256(Path(model_dir) / CHURN_MODEL_FILE)[:12]


def load_churn_model(model_dir: Path | str, name: str = "churn-model") -> LogisticChurnModel:
    """The model in ``model_dir/churn.json``; ArtifactError when missing or malformed."""
    path = Path(model_dir) / CHURN_MODEL_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return LogisticChurnModel(doc, name=name)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path} is not a usable churn model: {exc}") from exc


class ChurnRegistry(ModelRegistry):
    """Versions of the churn model (registered model ``taste2vec-churn`` by default)."""

    def __init__(self, uri: str, store: Store, *, name: str = CHURN_MODEL_NAME, **kw: Any) -> None:
        super().__init__(uri, store, name=name, **kw)

    def register(  # type: ignore[override]
        self, model_dir: Path | str, *, actor: str = "cli", description: str = ""
    ) -> tuple[VersionInfo, bool]:
        """Register a churn model folder. Returns (version, created): the same model
        document registered before returns that version, created=False."""
        model_dir = Path(model_dir)
        load_churn_model(model_dir)  # a usable model, or ArtifactError
        digest = churn_version_hash(model_dir)
        for info in self.versions():
            if info.weights_version == digest:
                return info, False
        metrics_path = model_dir / "metrics.json"
        metrics: dict[str, float] = {}
        if metrics_path.is_file():
            metrics = _flat_metrics(json.loads(metrics_path.read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory(prefix="t2v-churn-register-") as tmp:
            stage = Path(tmp) / ROOT
            (stage / "model").mkdir(parents=True)
            for name in (CHURN_MODEL_FILE, "metrics.json"):
                if (model_dir / name).is_file():
                    shutil.copy2(model_dir / name, stage / "model" / name)
            raw = manifest_bytes(manifest_of(stage))
            (stage / MANIFEST).write_bytes(raw)
            tags = {
                TAG + "weights_version": digest,
                TAG + "manifest_sha256": hashlib.sha256(raw).hexdigest(),
                TAG + "kind": "churn",
                TAG + "registered_by": actor,
            }
            mv = self._create_version(
                stage, tags, metrics, description, "register a churn model version"
            )
        log.info("registered %s version %s (model %s)", self.name, mv.version, digest)
        return self.version(str(mv.version)), True

    def _weights_hash(self, model_dir: Path) -> str:
        return churn_version_hash(model_dir)

    def load_scorer(self, alias: str = CHAMPION) -> LogisticChurnModel | None:
        """The model ``alias`` points at, named ``taste2vec-churn/<version>``; None while
        the alias is unset (or nothing is registered)."""
        check_alias(alias)
        ref = self.resolve(alias)
        if ref is None:
            return None
        folder = self.download(ref.version)
        return load_churn_model(folder / "model", name=f"{self.name}/{ref.version}")


class ChurnScorerSource:
    """A callable for :class:`~taste2vec.stream.state.StreamReader`'s ``churn_scorer``:
    returns the churn champion's model, looked up at most every ``poll_s`` seconds in a
    background thread (a read never waits for MLflow), or None (the rule) until one is
    found or when the registry fails (logged; the last good model is kept)."""

    def __init__(self, registry: ChurnRegistry, *, poll_s: float = 30.0) -> None:
        self.registry = registry
        self.poll_s = poll_s
        self._model: LogisticChurnModel | None = None
        self._version: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self) -> LogisticChurnModel | None:
        return self._model

    def refresh(self) -> LogisticChurnModel | None:
        """Look the champion up now (what the background thread does)."""
        try:
            ref = self.registry.resolve(CHAMPION)
            if ref is None:
                self._model, self._version = None, None
            elif ref.version != self._version:
                self._model = self.registry.load_scorer(CHAMPION)
                self._version = ref.version
                log.info("churn scoring with %s", self._model.name if self._model else None)
        except (Taste2VecError, NotFoundError, OSError) as exc:
            log.warning("churn model lookup failed (%s); keeping %s", exc, self._version)
        return self._model

    def start(self) -> ChurnScorerSource:
        def loop() -> None:
            while not self._stop.is_set():
                self.refresh()
                self._stop.wait(self.poll_s)

        self._thread = threading.Thread(target=loop, name="churn-model-source", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def wait_loaded(self, timeout_s: float = 10.0) -> bool:
        """Tests: wait until a model is in force."""
        deadline = time.monotonic() + timeout_s
        while self._model is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._model is not None
