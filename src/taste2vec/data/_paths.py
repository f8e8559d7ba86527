"""Locating dataset folders and files, with errors that say what to do.

The research datasets live outside the package, in a folder laid out like
``../shared/datasets`` (``coffeereview/``, ``cqi/``, ``flavor_wheel/``). Every
loader accepts either that root folder or the sub-folder itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from taste2vec.errors import DataError

_HINT = (
    "Point T2V_DATA_DIR (or the data_dir argument) at the datasets folder that holds "
    "coffeereview/ and cqi/, e.g. ../shared/datasets."
)


def resolve_data_dir(data_dir: Path | str | None) -> Path:
    """``data_dir`` as a :class:`Path`, or the configured ``T2V_DATA_DIR`` when ``None``."""
    if data_dir is not None:
        return Path(data_dir)
    from taste2vec.config import Settings

    configured = Settings().data_dir
    if configured is None:
        raise DataError(f"No dataset folder is configured. {_HINT}")
    return configured


def dataset_dir(data_dir: Path | str | None, name: str, marker: str) -> Path:
    """The ``name`` sub-folder of ``data_dir``, or ``data_dir`` itself if it holds ``marker``."""
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        raise DataError(f"Dataset folder {root} does not exist. {_HINT}")
    if (root / marker).is_file():
        return root
    sub = root / name
    if sub.is_dir():
        return sub
    raise DataError(f"Dataset folder {sub} does not exist (looked in {root}). {_HINT}")


def require_file(folder: Path, filename: str) -> Path:
    """``folder / filename``, raising :class:`DataError` when it is not a file."""
    path = folder / filename
    if not path.is_file():
        raise DataError(f"Dataset file {path} is missing. {_HINT}")
    return path


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Raise :class:`DataError` naming ``path`` when any of ``columns`` is absent."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks required column(s) {missing}; found {list(frame.columns)}. "
            f"Is this the right file? {_HINT}"
        )


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8, BOM allowed), wrapping parse failures in :class:`DataError`."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"Cannot read {path}: {exc}. {_HINT}") from exc
