"""Convert a model directory to a LiteRT (TFLite) flatbuffer with ``litert-torch``.

Run by ``taste2vec export --format tflite`` in the converter environment
(``.venv-edge``, see ``make edge-venv``): ``litert-torch`` pins pydantic and
typing-extensions below what the service uses and pulls jax, so it lives in a
virtual environment of its own. Usage::

    .venv-edge/bin/python -m taste2vec.edge.tflite_convert MODEL_DIR OUT_DIR [--int8] \
        [--static-table TABLE.npy]

Writes ``OUT_DIR/tflite.tflite``, with ``--int8`` also ``OUT_DIR/tflite-int8.tflite``
(one conversion, then AI Edge Quantizer's dynamic recipe: int8 weights per
channel, activations quantized on the fly), and ``OUT_DIR/signature.json``
(the signature input and output names). One signature per token bucket
(``t32`` … ``t512``), sharing weights. ``--static-table`` (a model of the static text
tower): the table ``taste2vec export`` wrote from the model it gates; the graph is then
:class:`~taste2vec.edge.graph.StaticText` over it and the model directory's network, one
signature per row bucket (``STATIC_BUCKETS``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taste2vec.edge.graph import EdgeEncoder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--int8", action="store_true", help="also write the int8 model")
    parser.add_argument(
        "--static-table", type=Path, default=None, help="the static text tower's table (.npy)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING)

    import litert_torch

    from taste2vec.edge.export import build_graph, sample_inputs
    from taste2vec.edge.graph import INPUT_NAMES
    from taste2vec.edge.spec import STATIC_BUCKETS, TFLITE_BUCKETS

    graph: EdgeEncoder
    if args.static_table is not None:
        graph = _static_graph(args.model_dir, args.static_table)
        buckets = STATIC_BUCKETS
    else:
        from taste2vec.config import Settings
        from taste2vec.model.taste2vec import Taste2Vec
        from taste2vec.model.text import HFSentenceEncoder

        encoder = HFSentenceEncoder(path=Settings().text_model_path)  # no embedding cache
        graph = build_graph(Taste2Vec.load(args.model_dir, text_encoder=encoder), "embedding")
        buckets = TFLITE_BUCKETS
    converter = litert_torch.Converter()
    for tokens in buckets:
        kwargs = dict(zip(INPUT_NAMES, sample_inputs(graph, tokens), strict=True))
        converter.signature(f"t{tokens}", graph, sample_kwargs=kwargs)
    edge_model = converter.convert()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    float_path = args.out_dir / "tflite.tflite"
    edge_model.export(str(float_path))
    if args.int8:
        from ai_edge_quantizer import quantizer, recipe

        qt = quantizer.Quantizer(str(float_path))
        qt.load_quantization_recipe(recipe.dynamic_wi8_afp32())
        qt.quantize().export_model(str(args.out_dir / "tflite-int8.tflite"), overwrite=True)

    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(float_path)).get_signature_list()
    first = signatures[f"t{buckets[0]}"]
    inputs = set(first["inputs"])
    input_map = {n: n if n in inputs else f"args_{i}" for i, n in enumerate(INPUT_NAMES)}
    missing = sorted(set(input_map.values()) - inputs)
    if missing:
        raise SystemExit(f"unexpected TFLite signature inputs {sorted(inputs)}")
    info = {
        "buckets": list(buckets),
        "input_names": [input_map[n] for n in INPUT_NAMES],
        "output_names": list(first["outputs"]),
    }
    (args.out_dir / "signature.json").write_text(json.dumps(info, indent=2))
    return 0


def _static_graph(model_dir: Path, table_file: Path) -> EdgeEncoder:
    """The edge graph of a static-tower model from its network and the given table."""
    import numpy as np
    import torch

    from taste2vec.edge.graph import EdgeEncoder, StaticText  # noqa: F811 - at run time
    from taste2vec.lexicon import load_lexicon
    from taste2vec.model.artifact import load_network
    from taste2vec.model.features import MAX_HISTORY
    from taste2vec.model.taste2vec import ancestry_matrix, node_family_matrix

    lexicon = load_lexicon()
    net, scaler, vocab = load_network(
        model_dir, ancestry_matrix(lexicon), node_family_matrix(lexicon)
    )
    table = torch.from_numpy(np.load(table_file, allow_pickle=False))
    if int(table.shape[1]) != net.cfg.text_dim:
        raise SystemExit(
            f"static table is {tuple(table.shape)}, the network reads {net.cfg.text_dim}"
        )
    text = StaticText(table, "embedding")
    return EdgeEncoder(net, text, vocab, scaler, MAX_HISTORY).eval()


if __name__ == "__main__":
    sys.exit(main())
