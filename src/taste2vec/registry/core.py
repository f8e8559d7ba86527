"""The model registry on MLflow: versions, the ``champion``/``challenger`` aliases, audit.

* **Backends.** ``uri`` is MLflow's tracking and registry URI. ``sqlite:///path/mlflow.db``
  (the embedded default) keeps runs, versions and aliases in that file and the artifacts
  in a file store beside it (``<folder>/mlartifacts``); ``http(s)://host:port`` talks to
  an ``mlflow server``, which stores the artifacts (proxied). No other network is used:
  MLflow's telemetry is switched off before it is imported.
* **A version** is one MLflow run of the experiment ``<name>-registry`` plus one model
  version of the registered model ``<name>``. The run's artifacts (``taste2vec/``) are
  the model directory (``model/``), its edge bundles when the edge registry beside it
  has some (``edge/``) and ``checksums.json``, the SHA-256 of every file. The version's
  tags hold the weights hash (the ``model_version`` the service reports), the lexicon
  and scaler versions, the training data fingerprint and the manifest's own SHA-256;
  the run holds the evaluation metrics (``metrics.json``) as MLflow metrics.
* **Downloads are verified.** :meth:`ModelRegistry.download` checks every file against
  the manifest and the manifest against its tag; a mismatch raises
  :class:`~taste2vec.registry.checksums.ChecksumError` and nothing is replaced.
* **Aliases** move only through :meth:`promote` and :meth:`rollback`, which first append
  the move to the store's audit log (:meth:`taste2vec.store.Store.record_alias_move`,
  optimistic: two concurrent moves of one alias cannot both land), then set the MLflow
  alias, then check that the log's latest move is what MLflow holds. The log is a
  write-ahead log: a crash between the two writes is rolled forward by the next
  promote/rollback (:meth:`reconcile`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taste2vec.config import Settings
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.errors import ConflictError, NotFoundError, SchemaError, StoreError
from taste2vec.model.artifact import read_config, read_json, weights_version
from taste2vec.registry.checksums import (
    MANIFEST,
    ChecksumError,
    file_sha256,
    manifest_bytes,
    manifest_of,
    verify,
)
from taste2vec.store import AliasEvent, Store

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "ALIASES",
    "ModelRegistry",
    "RegistryUnavailableError",
    "UnknownAliasError",
    "VersionInfo",
    "VersionRef",
    "open_registry",
]

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
ROOT = "taste2vec"  # the run's artifact folder holding one version
TAG = "t2v."


class UnknownAliasError(NotFoundError):
    """An alias other than ``champion`` and ``challenger``."""


class RegistryUnavailableError(StoreError):
    """The MLflow registry could not be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class VersionRef:
    """What an alias points at: the registry version and the served weights' hash."""

    version: str
    weights_version: str


@dataclass(frozen=True)
class VersionInfo:
    """One registered version, as the CLI and the API list it."""

    version: str
    weights_version: str
    created: datetime
    run_id: str
    aliases: tuple[str, ...] = ()
    lexicon_version: str = ""
    scaler_version: str = ""
    data_fingerprint: str = ""
    data_sha256: str = ""
    manifest_sha256: str = ""
    edge_formats: tuple[str, ...] = ()
    description: str = ""
    registered_by: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "weights_version": self.weights_version,
            "created": self.created.isoformat(timespec="seconds"),
            "run_id": self.run_id,
            "aliases": list(self.aliases),
            "lexicon_version": self.lexicon_version,
            "scaler_version": self.scaler_version,
            "data_fingerprint": self.data_fingerprint,
            "data_sha256": self.data_sha256,
            "manifest_sha256": self.manifest_sha256,
            "edge_formats": list(self.edge_formats),
            "description": self.description,
            "registered_by": self.registered_by,
            "metrics": dict(self.metrics),
        }


def _quiet_mlflow_env() -> None:
    """No telemetry (no network besides the configured server), no progress bars, and
    bounded HTTP retries (MLflow's default retries a dead server for minutes)."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def check_alias(alias: str) -> str:
    if alias not in ALIASES:
        raise UnknownAliasError(
            f"unknown alias {alias!r}; the registry's aliases are: champion, challenger"
        )
    return alias


def check_version(version: str) -> str:
    text = str(version).strip()
    if not text.isdigit() or len(text) > 9:
        raise SchemaError(
            f"invalid registry version {version!r}: a version number such as 3",
            [("version", "not a version number")],
        )
    return str(int(text))


def _flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of ``metrics.json`` (lists, e.g. per-epoch history, left out)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, Mapping):
            out.update(_flat_metrics(value, f"{name}."))
    return out


def _mlflow_version_of(exc: BaseException) -> str:
    return str(getattr(exc, "error_code", "") or "")


def crash_point(name: str) -> None:
    """Fault injection for the kill -9 tests: SIGKILL this process when the environment
    variable ``T2V_CRASH_AT`` names this point. Never set outside tests."""
    if os.environ.get("T2V_CRASH_AT") == name:
        log.warning("T2V_CRASH_AT=%s: killing this process with SIGKILL", name)
        os.kill(os.getpid(), signal.SIGKILL)


class ModelRegistry:
    """Versions of one registered model (``name``) in MLflow, with an audit log in
    ``store``. ``cache_dir`` holds verified downloads, one folder per version and content
    (:meth:`cache_path`), so registries that share a cache never serve each other's files."""

    def __init__(
        self,
        uri: str,
        store: Store,
        *,
        name: str = "taste2vec",
        cache_dir: Path | str | None = None,
        artifact_root: Path | str | None = None,
    ) -> None:
        if not uri:
            raise SchemaError("the registry URI is empty (T2V_REGISTRY_URI)")
        self.uri = uri
        self.store = store
        self.name = name
        self.local = uri.startswith("sqlite:///")
        if artifact_root is None and self.local:
            artifact_root = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        self.artifact_root = None if artifact_root is None else Path(artifact_root).resolve()
        default_cache = Path(tempfile.gettempdir()) / "taste2vec-registry"
        self.cache_dir = Path(cache_dir or default_cache) / name
        self._client_obj: MlflowClient | None = None
        self._experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"ModelRegistry({self.display_uri!r}, name={self.name!r})"

    @property
    def display_uri(self) -> str:
        """The URI with any password in it masked."""
        return re.sub(r"//([^/@:]+):[^/@]*@", r"//\1:***@", self.uri)

    # ------------------------------------------------------------------ MLflow plumbing
    @property
    def client(self) -> MlflowClient:
        if self._client_obj is None:
            _quiet_mlflow_env()
            from mlflow import MlflowClient

            if self.local:
                Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._client_obj = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client_obj

    @contextmanager
    def _mlflow(self, what: str) -> Iterator[None]:
        """Translate MLflow's errors: missing things to NotFoundError, the rest to
        RegistryUnavailableError (the API answers 503)."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            code = _mlflow_version_of(exc)
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError(f"{what}: {exc.message}") from None
            raise RegistryUnavailableError(
                f"{what}: MLflow registry {self.uri}: {exc.message}"
            ) from exc
        except OSError as exc:
            raise RegistryUnavailableError(f"{what}: MLflow registry {self.uri}: {exc}") from exc

    def _experiment(self) -> str:
        if self._experiment_id is None:
            exp_name = f"{self.name}-registry"
            with self._mlflow("open the registry experiment"):
                exp = self.client.get_experiment_by_name(exp_name)
                if exp is not None:
                    self._experiment_id = exp.experiment_id
                else:
                    location = None if self.artifact_root is None else self.artifact_root.as_uri()
                    self._experiment_id = self.client.create_experiment(
                        exp_name, artifact_location=location
                    )
        return self._experiment_id

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(
                self.name, description="Taste2Vec models; aliases champion and challenger"
            )
        except MlflowException as exc:
            if _mlflow_version_of(exc) != "RESOURCE_ALREADY_EXISTS":
                raise RegistryUnavailableError(
                    f"create registered model {self.name}: {exc.message}"
                ) from exc

    def _info(self, mv: Any, metrics: bool = True) -> VersionInfo:
        tags = dict(mv.tags or {})
        run_metrics: dict[str, float] = {}
        if metrics and mv.run_id:
            with self._mlflow(f"read run of version {mv.version}"):
                run_metrics = dict(self.client.get_run(mv.run_id).data.metrics)
        edge = tags.get(TAG + "edge_formats", "")
        return VersionInfo(
            version=str(mv.version),
            weights_version=tags.get(TAG + "weights_version", ""),
            created=datetime.fromtimestamp(int(mv.creation_timestamp) / 1000, UTC),
            run_id=str(mv.run_id or ""),
            aliases=tuple(sorted(mv.aliases or ())),
            lexicon_version=tags.get(TAG + "lexicon_version", ""),
            scaler_version=tags.get(TAG + "scaler_version", ""),
            data_fingerprint=tags.get(TAG + "data_fingerprint", ""),
            data_sha256=tags.get(TAG + "data_sha256", ""),
            manifest_sha256=tags.get(TAG + "manifest_sha256", ""),
            edge_formats=tuple(f for f in edge.split(",") if f),
            description=str(mv.description or ""),
            registered_by=tags.get(TAG + "registered_by", ""),
            metrics=run_metrics,
        )

    # -------------------------------------------------------------------------- reads
    def versions(self, metrics: bool = False) -> list[VersionInfo]:
        """Every version, newest first (``metrics``: read each run's metrics too)."""
        from mlflow.exceptions import MlflowException

        with self._mlflow("list versions"):
            try:
                found = self.client.search_model_versions(f"name='{self.name}'")
            except MlflowException as exc:
                if _mlflow_version_of(exc) == "RESOURCE_DOES_NOT_EXIST":
                    return []
                raise
            aliases = self.aliases()
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        infos = []
        for mv in found:
            info = self._info(mv, metrics)
            infos.append(
                VersionInfo(
                    **{**info.__dict__, "aliases": tuple(sorted(by_version.get(info.version, [])))}
                )
            )
        return sorted(infos, key=lambda i: int(i.version), reverse=True)

    def version(self, version: str) -> VersionInfo:
        """One version with its metrics (NotFoundError when it does not exist)."""
        v = check_version(version)
        with self._mlflow(f"model {self.name} version {v}"):
            mv = self.client.get_model_version(self.name, v)
        return self._info(mv)

    def aliases(self) -> dict[str, str]:
        """``{alias: version}`` as MLflow holds them now (empty before any register)."""
        from mlflow.exceptions import MlflowException

        with self._mlflow("read aliases"):
            try:
                model = self.client.get_registered_model(self.name)
            except MlflowException as exc:
                if _mlflow_version_of(exc) == "RESOURCE_DOES_NOT_EXIST":
                    return {}
                raise
        return {str(k): str(v) for k, v in (model.aliases or {}).items()}

    def resolve(self, alias: str) -> VersionRef | None:
        """The version ``alias`` points at now (None while it is unset): one MLflow call."""
        from mlflow.exceptions import MlflowException

        check_alias(alias)
        with self._mlflow(f"resolve alias {alias}"):
            try:
                mv = self.client.get_model_version_by_alias(self.name, alias)
            except MlflowException as exc:
                # an unset alias (INVALID_PARAMETER_VALUE) or no registered model yet
                if _mlflow_version_of(exc) in (
                    "INVALID_PARAMETER_VALUE",
                    "RESOURCE_DOES_NOT_EXIST",
                ):
                    return None
                raise
        return VersionRef(str(mv.version), dict(mv.tags or {}).get(TAG + "weights_version", ""))

    def history(
        self, alias: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AliasEvent]:
        """The audit log, newest first."""
        if alias is not None:
            check_alias(alias)
        return self.store.alias_history(self.name, alias, offset=offset, limit=limit)

    def alias_at(self, alias: str, at: datetime) -> str | None:
        """The version ``alias`` pointed at, at time ``at`` (None: unset then)."""
        event = self.store.alias_at(self.name, check_alias(alias), at)
        return None if event is None else event.new_version

    # ------------------------------------------------------------------------ register
    def register(
        self,
        model_dir: Path | str,
        *,
        actor: str = "cli",
        description: str = "",
        edge_root: Path | str | None = None,
    ) -> tuple[VersionInfo, bool]:
        """Register a trained model directory (and its edge bundles, from ``edge_root``,
        default the edge registry beside it). Returns (version, created): registering
        weights that already have a version returns that version, created=False."""
        model_dir = Path(model_dir)
        read_config(model_dir)  # a complete, readable artifact or ArtifactError
        weights = weights_version(model_dir)
        for info in self.versions():
            if info.weights_version == weights:
                return info, False
        lexicon = str(read_json(model_dir / "lexicon.json").get("version", ""))
        data_path = model_dir / "data.json"
        data = read_json(data_path) if data_path.is_file() else {}
        metrics_path = model_dir / "metrics.json"
        metrics = _flat_metrics(read_json(metrics_path)) if metrics_path.is_file() else {}
        edge = EdgeRegistry(edge_root) if edge_root else EdgeRegistry.beside(model_dir)
        with tempfile.TemporaryDirectory(prefix="t2v-register-") as tmp:
            stage = Path(tmp) / ROOT
            shutil.copytree(model_dir, stage / "model", ignore=shutil.ignore_patterns(".*"))
            formats = sorted(edge.formats(weights))
            if formats:
                (stage / "edge").mkdir()
                shutil.copy2(edge.root / weights / "index.json", stage / "edge" / "index.json")
            for fmt in formats:
                entry = edge.entry(weights, fmt)
                if entry is not None:
                    shutil.copy2(entry.path, stage / "edge" / entry.path.name)
            manifest = manifest_of(stage)
            raw = manifest_bytes(manifest)
            (stage / MANIFEST).write_bytes(raw)
            tags = {
                TAG + "weights_version": weights,
                TAG + "manifest_sha256": hashlib.sha256(raw).hexdigest(),
                TAG + "lexicon_version": lexicon,
                TAG + "scaler_version": file_sha256(model_dir / "scaler.json")[:12],
                TAG + "data_fingerprint": str(data.get("fingerprint", "")),
                TAG + "data_sha256": file_sha256(data_path) if data_path.is_file() else "",
                TAG + "edge_formats": ",".join(formats),
                TAG + "registered_by": actor,
            }
            mv = self._create_version(stage, tags, metrics, description, "register a version")
        log.info("registered %s version %s (weights %s)", self.name, mv.version, weights)
        return self.version(str(mv.version)), True

    def _create_version(
        self,
        stage: Path,
        tags: dict[str, str],
        metrics: dict[str, float],
        description: str | None,
        what: str,
    ) -> Any:
        """Log ``stage`` as a run's artifacts and register it as a new version."""
        with self._mlflow(what):
            run_id = self._log_run(stage, tags, metrics)
            self._ensure_model()
            return self.client.create_model_version(
                self.name,
                f"runs:/{run_id}/{ROOT}",
                run_id=run_id,
                tags=tags,
                description=description or None,
            )

    def _log_run(self, stage: Path, tags: dict[str, str], metrics: dict[str, float]) -> str:
        from mlflow.entities import Metric, Param

        client = self.client
        run = client.create_run(
            self._experiment(), tags={"mlflow.runName": tags[TAG + "weights_version"]}
        )
        run_id = run.info.run_id
        now = int(datetime.now(UTC).timestamp() * 1000)
        params = [Param(k.removeprefix(TAG), v) for k, v in tags.items() if v]
        items = [Metric(k, v, now, 0) for k, v in sorted(metrics.items())]
        for start in range(0, max(len(items), 1), 500):
            client.log_batch(
                run_id, metrics=items[start : start + 500], params=params if start == 0 else []
            )
        client.log_artifacts(run_id, str(stage), ROOT)
        client.set_terminated(run_id)
        return str(run_id)

    # ------------------------------------------------------------------------ download
    def _weights_hash(self, model_dir: Path) -> str:
        """The hash a version's ``weights_version`` tag holds (a subclass for another kind
        of model, such as the churn registry, hashes its own files)."""
        return weights_version(model_dir)

    def download(self, version: str) -> Path:
        """The version's files in the local cache, every checksum verified: the folder
        holding ``model/`` (and ``edge/``). Raises ChecksumError on a corrupt artifact;
        a cached copy that fails is downloaded again, once."""
        info = self.version(version)
        what = f"model {self.name} version {info.version}"
        if not info.manifest_sha256:
            raise ChecksumError(f"{what} has no checksum tag; it was not registered by taste2vec")
        target = self.cache_path(info)
        if target.is_dir():
            try:
                verify(target, info.manifest_sha256, what)
                return target
            except ChecksumError:
                log.warning("cached copy of %s is corrupt; downloading it again", what)
                shutil.rmtree(target, ignore_errors=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{info.version}.", dir=self.cache_dir))
        try:
            with self._mlflow(f"download {what}"):
                self.client.download_artifacts(info.run_id, ROOT, str(tmp))
            fetched = tmp / ROOT
            verify(fetched, info.manifest_sha256, what)
            if self._weights_hash(fetched / "model") != info.weights_version:
                raise ChecksumError(f"{what}: the weights do not hash to {info.weights_version}")
            if not target.exists():  # else another process put the same files there
                os.replace(fetched, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def cache_path(self, info: VersionInfo) -> Path:
        """Where ``info``'s verified download is kept:
        ``<cache_dir>/<version>-<first 16 hex digits of its manifest SHA-256>``. The
        manifest hashes every file, so a folder name stands for one content: two
        registries (another URI, or a test's) with a version of the same number but other
        files never share a folder, and a folder another process renamed into place
        holds the files this version registered."""
        return self.cache_dir / f"{info.version}-{info.manifest_sha256[:16]}"

    # ------------------------------------------------------------------------- aliases
    def _set_alias(self, alias: str, version: str | None) -> None:
        from mlflow.exceptions import MlflowException

        with self._mlflow(f"move alias {alias}"):
            if version is None:
                try:
                    self.client.delete_registered_model_alias(self.name, alias)
                except MlflowException as exc:
                    if _mlflow_version_of(exc) not in (
                        "INVALID_PARAMETER_VALUE",
                        "RESOURCE_DOES_NOT_EXIST",
                    ):
                        raise
            else:
                self.client.set_registered_model_alias(self.name, alias, version)

    def reconcile(self, alias: str) -> str | None:
        """Make MLflow hold what the audit log's latest move says (roll a move that
        crashed between its two writes forward); an alias set in MLflow without any
        audited move is adopted and logged. Returns the alias's version."""
        check_alias(alias)
        last = self.store.last_alias_event(self.name, alias)
        held = self.aliases().get(alias)
        if last is None:
            if held is not None:
                self.store.record_alias_move(
                    self.name,
                    alias,
                    action="adopt",
                    previous_version=None,
                    new_version=held,
                    actor="registry",
                    reason="alias found in MLflow without an audited move; adopted",
                )
            return held
        if last.new_version != held:
            log.warning(
                "alias %s of %s is %s in MLflow but %s in the audit log; rolling forward",
                alias,
                self.name,
                held,
                last.new_version,
            )
            self._set_alias(alias, last.new_version)
        return last.new_version

    def _move(
        self,
        alias: str,
        version: str | None,
        *,
        action: str,
        current: str | None,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None,
    ) -> AliasEvent:
        event = self.store.record_alias_move(
            self.name,
            alias,
            action=action,
            previous_version=current,
            new_version=version,
            actor=actor,
            reason=reason,
            evidence=evidence,
        )
        crash_point("alias-logged")
        self._set_alias(alias, version)
        # A concurrent mover may have logged a later move and set MLflow before us.
        for _ in range(3):
            last = self.store.last_alias_event(self.name, alias)
            if last is None or self.aliases().get(alias) == last.new_version:
                break
            self._set_alias(alias, last.new_version)
        log.info(
            "alias %s of %s: %s -> %s (%s by %s)", alias, self.name, current, version, action, actor
        )
        return event

    def promote(
        self,
        version: str,
        *,
        alias: str = CHAMPION,
        actor: str,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> AliasEvent | None:
        """Point ``alias`` at ``version`` after downloading and verifying it (a missing
        version or a corrupt artifact raises and changes nothing). None when the alias
        already points there."""
        check_alias(alias)
        v = check_version(version)
        self.download(v)
        current = self.reconcile(alias)
        if current == v:
            return None
        return self._move(
            alias,
            v,
            action="promote",
            current=current,
            actor=actor,
            reason=reason,
            evidence=evidence,
        )

    def rollback_target(self, alias: str = CHAMPION) -> str | None:
        """The version a rollback returns to: the one ``alias`` held before the move that
        promoted its current version (rollbacks are skipped, so two rollbacks step back
        twice)."""
        check_alias(alias)
        history = self.store.alias_history(self.name, alias, limit=10_000)
        if not history:
            return None
        current = history[0].new_version
        for event in history:
            if event.action != "rollback" and event.new_version == current:
                return event.previous_version
        return None

    def rollback(
        self,
        *,
        alias: str = CHAMPION,
        to: str | None = None,
        actor: str,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> AliasEvent:
        """Point ``alias`` back at the version it held before (or at ``to``)."""
        check_alias(alias)
        current = self.reconcile(alias)
        target = check_version(to) if to is not None else self.rollback_target(alias)
        if target is None:
            raise ConflictError(f"alias {alias!r} has no earlier version to roll back to")
        if target == current:
            raise ConflictError(f"alias {alias!r} already points at version {target}")
        self.download(target)
        return self._move(
            alias,
            target,
            action="rollback",
            current=current,
            actor=actor,
            reason=reason,
            evidence=evidence,
        )

    def remove(
        self,
        *,
        alias: str = CHALLENGER,
        actor: str,
        reason: str = "",
        evidence: dict[str, Any] | None = None,
    ) -> AliasEvent | None:
        """Unset ``alias`` (logged as ``remove``); None when it is unset already. The
        experiment controller clears ``challenger`` this way when an experiment ends."""
        check_alias(alias)
        current = self.reconcile(alias)
        if current is None:
            return None
        return self._move(
            alias,
            None,
            action="remove",
            current=current,
            actor=actor,
            reason=reason,
            evidence=evidence,
        )


def open_registry(settings: Settings, store: Store) -> ModelRegistry:
    """The registry the settings name (``T2V_REGISTRY_URI``, ``T2V_REGISTRY_MODEL_NAME``),
    with downloads cached under ``<T2V_CACHE_DIR>/registry``."""
    return ModelRegistry(
        settings.registry_uri_value(),
        store,
        name=settings.registry_model_name,
        cache_dir=settings.registry_cache_dir(),
    )
