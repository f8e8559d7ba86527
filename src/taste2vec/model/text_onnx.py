"""The text tower's fast cloud path: MiniLM as an int8 ONNX graph run by onnxruntime.

``T2V_TEXT_BACKEND=onnx-int8`` (:class:`~taste2vec.model.text.HFSentenceEncoder`
with ``backend="onnx-int8"``) runs the same weights through the edge's plain BERT
re-implementation (:class:`taste2vec.edge.graph.MiniLM`: mean pooling and L2
normalisation inside the graph), exported with a dynamic batch and token axis
and quantised with onnxruntime's dynamic int8 quantisation, **per output
channel** (per-tensor scales, as in the edge bundles, cost MiniLM's sentence
vectors a worst-case cosine of about 0.84 against fp32 on the demo notes;
per-channel about 0.98). The graph is built once per model and kept next to
the embedding cache (``<cache_dir>/text-<id>.onnx``) so later processes start
at once. Needs the ``edge`` extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from taste2vec.errors import MissingExtraError, ModelError

ONNX_INT8 = "onnx-int8"
# onnxruntime's int8 kernels ran fastest on batches of 16 length-sorted notes (8-128 tried).
ONNX_BATCH = 16


def onnx_file_name(model_id: str) -> str:
    """The cached graph's file name: model id and onnxruntime version (its quantiser)."""
    import onnxruntime

    key = f"{model_id}\0{onnxruntime.__version__}\0per-channel-qint8"
    return f"text-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def export_int8(hf_model: Any, out: Path) -> None:
    """Export ``hf_model`` (a Hugging Face BERT) as a per-channel int8 ONNX graph at ``out``."""
    import torch
    from torch.export import Dim

    try:
        import onnx  # noqa: F401 - needed by the exporter and the quantiser
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingExtraError("onnx, onnxscript and onnxruntime", "edge") from exc
    from taste2vec.edge.graph import MiniLM

    graph = MiniLM.from_hf(hf_model).eval()
    batch, tokens = Dim("batch", min=1, max=4096), Dim("tokens", min=2, max=512)
    ids = torch.full((2, 16), 1000, dtype=torch.int64)
    mask = torch.ones(2, 16, dtype=torch.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter notes on torchvision ops and pytrees
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        fp32 = Path(tmp) / "fp32.onnx"
        program = torch.onnx.export(
            graph,
            (ids, mask),
            dynamo=True,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_shapes={
                "input_ids": {0: batch, 1: tokens},
                "attention_mask": {0: batch, 1: tokens},
            },
            optimize=True,
            verbose=False,
        )
        if program is None:  # pragma: no cover - dynamo=True always returns a program
            raise ModelError("torch.onnx.export returned no program")
        program.save(str(fp32), external_data=False)
        staged = Path(tmp) / "int8.onnx"
        logging.disable(logging.WARNING)  # "consider pre-processing": not needed here
        try:
            quantize_dynamic(str(fp32), str(staged), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(logging.NOTSET)
        partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        partial.write_bytes(staged.read_bytes())
        partial.replace(out)  # atomic: a concurrent reader sees the old file or the whole new one


class OnnxInt8Text:
    """An onnxruntime session over the int8 MiniLM graph; ``run`` gives unit vectors."""

    def __init__(self, hf_model: Any, model_id: str, folder: Path | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingExtraError("onnxruntime", "edge") from exc
        import torch

        if folder is None:
            self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory()
            folder = Path(self._tmp.name)
        else:
            self._tmp = None
        path = folder / onnx_file_name(model_id)
        if not path.is_file():
            export_int8(hf_model, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        options.inter_op_num_threads = 1
        # The machine is shared: idle worker threads sleep instead of spinning on a core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (out,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(out, dtype=np.float32)
