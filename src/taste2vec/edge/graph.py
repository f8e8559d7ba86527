"""The exportable edge graph: the text tower, the four towers, fusion and both heads in one module.

:class:`EdgeEncoder` computes, for ONE record, exactly what the cloud model
computes from the record's :class:`~taste2vec.model.features.FeatureBatch`, but
starting one step earlier for the text tower (token ids instead of a sentence
embedding) and ending one step later for the heads (sensory intensities in
metric units, family probabilities). It is written with export in mind:

- MiniLM is re-implemented here (:class:`MiniLM`, a plain BERT encoder) and loads
  the weights of the Hugging Face model, so the graph holds no ``transformers``
  control flow and exports the same way to ONNX and to LiteRT;
- a static text tower (``T2V_TEXT_TOWER=static``) is :class:`StaticText` instead: its
  table and a masked sum (the runtime turns notes into the table's rows);
- the context LSTM is unrolled over the fixed 8 steps (:class:`UnrolledLSTM`, the
  same weights and gate order as ``torch.nn.LSTM``), and the state at the last
  real step is picked with a one-hot product instead of a gather;
- the vocabulary's ridge reading (a linear map of the TF-IDF row) and the inverse
  scaling of the sensory head (the app scale, as in ``scaler.json``'s top
  level) are folded into the graph as constants.

Everything else (tokenisation, Korean rendering, lexicon matching, TF-IDF,
metric standardisation, context encoding) is plain code in
:mod:`taste2vec.edge.runtime`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from taste2vec.edge.spec import INPUT_NAMES, OUTPUT_NAMES
from taste2vec.errors import ModelError
from taste2vec.model.network import SENSORY_COLUMNS, Taste2VecNet
from taste2vec.model.scaler import MetricScaler
from taste2vec.model.vocab import SensoryVocabulary

__all__ = ["INPUT_NAMES", "OUTPUT_NAMES", "EdgeEncoder", "MiniLM", "StaticText", "UnrolledLSTM"]

MASK_VALUE = -10000.0  # added to attention scores of padding tokens (BERT's classic value)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class _AttentionOutput(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)  # noqa: N815 - Hugging Face's name


class _Attention(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(hidden)
        self.output = _AttentionOutput(hidden, eps)


class _Intermediate(nn.Module):
    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, inner)


class _Output(nn.Module):
    def __init__(self, hidden: int, inner: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)  # noqa: N815 - Hugging Face's name


class _Layer(nn.Module):
    def __init__(self, hidden: int, inner: int, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = _Attention(hidden, eps)
        self.intermediate = _Intermediate(hidden, inner)
        self.output = _Output(hidden, inner, eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        att = self.attention.self

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)

        q = split(att.query(x)) * (1.0 / math.sqrt(d // h))
        k, v = split(att.key(x)), split(att.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, t, d)
        out = self.attention.output
        x = out.LayerNorm(out.dense(ctx) + x)
        inner = nn.functional.gelu(self.intermediate.dense(x))
        y: torch.Tensor = self.output.LayerNorm(self.output.dense(inner) + x)
        return y


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int, types: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)  # noqa: N815 - Hugging Face's name


class _Encoder(nn.Module):
    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class MiniLM(nn.Module):
    """A BERT encoder (all-MiniLM-L6-v2's shape) with mean pooling and L2 normalisation.

    Parameter names follow Hugging Face's ``BertModel``, so its state dict loads
    as is. ``forward(input_ids, attention_mask)`` → ``(B, hidden)`` unit vectors,
    the same as :meth:`taste2vec.model.text.HFSentenceEncoder.embed_tokens`.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        hidden = int(config["hidden_size"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.embeddings = _Embeddings(
            int(config["vocab_size"]),
            hidden,
            int(config["max_position_embeddings"]),
            int(config.get("type_vocab_size", 2)),
            eps,
        )
        layers = [
            _Layer(
                hidden, int(config["intermediate_size"]), int(config["num_attention_heads"]), eps
            )
            for _ in range(int(config["num_hidden_layers"]))
        ]
        self.encoder = _Encoder(layers)
        self.hidden = hidden
        # How token ids become vectors; both compute the same. "embedding" lowers to
        # TFLite's EMBEDDING_LOOKUP, which AI Edge Quantizer quantizes to int8 (a GATHER it
        # leaves in fp32: 47 MB). "index_select" is for ONNX: its exporter names an
        # embedding's output "embedding", which clashes with the graph output of that name.
        self.lookup = "index_select"

    @classmethod
    def from_hf(cls, model: Any, lookup: str = "index_select") -> MiniLM:
        """Copy the weights of a loaded Hugging Face ``BertModel``."""
        config = model.config.to_dict()
        problems = []
        if config.get("model_type") != "bert":
            problems.append(f"model_type {config.get('model_type')!r} (need 'bert')")
        if config.get("hidden_act") != "gelu":
            problems.append(f"hidden_act {config.get('hidden_act')!r} (need 'gelu')")
        if config.get("position_embedding_type", "absolute") != "absolute":
            problems.append("relative position embeddings")
        if problems:
            raise ModelError(
                "the edge export re-implements BERT encoders only; this text model has "
                + ", ".join(problems)
            )
        out = cls(config)
        out.lookup = lookup
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("pooler.")}
        state.pop("embeddings.position_ids", None)
        missing, unexpected = out.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ModelError(
                f"text model weights do not fit: missing {missing}, extra {unexpected}"
            )
        return out.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        emb = self.embeddings
        t = input_ids.shape[1]
        positions = emb.position_embeddings.weight[:t].unsqueeze(0)
        if self.lookup == "embedding":
            words = emb.word_embeddings(input_ids)
        else:
            flat = torch.index_select(emb.word_embeddings.weight, 0, input_ids.reshape(-1))
            words = flat.view(input_ids.shape[0], t, self.hidden)
        x = words + positions + emb.token_type_embeddings.weight[0]
        x = emb.LayerNorm(x)
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * MASK_VALUE).view(mask.shape[0], 1, 1, t)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        weights = mask.unsqueeze(-1)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)


class StaticText(nn.Module):
    """The static text tower: the L2-normalised, count-weighted sum of table rows.

    ``forward(input_ids, attention_mask)`` → ``(B, dim)``: ``input_ids`` are table rows
    (WordPiece ids, or phrase rows past the vocabulary), ``attention_mask`` how many
    times each is read (0 for padding). A note with no row gives the zero vector, as
    :meth:`taste2vec.model.text_static.StaticEncoder.encode` does (the mean's ``1/n``
    cancels in the normalisation). ``lookup`` as in :class:`MiniLM`: ``"embedding"``
    lowers to TFLite's EMBEDDING_LOOKUP (quantizable), ``"index_select"`` to a Gather.
    """

    def __init__(self, table: torch.Tensor, lookup: str = "index_select") -> None:
        super().__init__()
        if table.ndim != 2 or not table.shape[0] or not table.shape[1]:
            raise ModelError(f"a static text table is rows x dims, got {tuple(table.shape)}")
        self.table = nn.Embedding(int(table.shape[0]), int(table.shape[1]))
        self.table.weight = nn.Parameter(table.float().clone(), requires_grad=False)
        self.lookup = lookup
        self.dim = int(table.shape[1])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.lookup == "embedding":
            rows = self.table(input_ids)
        else:
            flat = torch.index_select(self.table.weight, 0, input_ids.reshape(-1))
            rows = flat.view(input_ids.shape[0], input_ids.shape[1], self.dim)
        counts = attention_mask.to(rows.dtype).unsqueeze(-1)
        return nn.functional.normalize((rows * counts).sum(dim=1), dim=-1)


class UnrolledLSTM(nn.Module):
    """``nn.LSTM(batch_first=True)`` over a fixed number of steps, as plain matrix products.

    Returns the top layer's output at step ``lengths - 1`` (the context tower's
    "last real step"), picked with a one-hot weighting so no gather is needed.
    """

    def __init__(self, lstm: nn.LSTM, steps: int) -> None:
        super().__init__()
        if not lstm.batch_first or lstm.bidirectional or lstm.proj_size:
            raise ModelError("only unidirectional, batch-first LSTMs without projection unroll")
        self.steps = steps
        self.hidden = lstm.hidden_size
        self.layers = lstm.num_layers
        for i in range(lstm.num_layers):
            w_ih = getattr(lstm, f"weight_ih_l{i}").detach().clone()
            w_hh = getattr(lstm, f"weight_hh_l{i}").detach().clone()
            bias = (getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")).detach()
            self.register_buffer(f"w_ih{i}", w_ih.t().contiguous())
            self.register_buffer(f"w_hh{i}", w_hh.t().contiguous())
            self.register_buffer(f"b{i}", bias.clone())

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b = seq.shape[0]
        n = self.hidden
        inputs = [seq[:, s, :] for s in range(self.steps)]
        for i in range(self.layers):
            w_ih, w_hh = self.get_buffer(f"w_ih{i}"), self.get_buffer(f"w_hh{i}")
            bias = self.get_buffer(f"b{i}")
            h = seq.new_zeros(b, n)
            c = seq.new_zeros(b, n)
            outputs = []
            for x in inputs:
                gates = x @ w_ih + h @ w_hh + bias
                ig = torch.sigmoid(gates[:, :n])
                fg = torch.sigmoid(gates[:, n : 2 * n])
                gg = torch.tanh(gates[:, 2 * n : 3 * n])
                og = torch.sigmoid(gates[:, 3 * n :])
                c = fg * c + ig * gg
                h = og * torch.tanh(c)
                outputs.append(h)
            inputs = outputs
        stacked = torch.stack(inputs, dim=1)  # (B, steps, hidden)
        last = (lengths.view(-1, 1) - 1).clamp(min=0)
        steps = torch.arange(self.steps, device=seq.device).view(1, -1)
        pick = (steps == last).to(seq.dtype).unsqueeze(-1)
        return (stacked * pick).sum(dim=1)


class EdgeEncoder(nn.Module):
    """MiniLM (or the static table) + the Taste2Vec network for one record; see the module
    docstring."""

    def __init__(
        self,
        net: Taste2VecNet,
        text: MiniLM | StaticText,
        vocab: SensoryVocabulary,
        scaler: MetricScaler,
        context_steps: int,
    ) -> None:
        super().__init__()
        self.text_model = text
        self.net = net.eval()
        self.context = UnrolledLSTM(net.context.lstm, context_steps)
        n_out = len(SENSORY_COLUMNS)
        reading = torch.zeros(max(vocab.size, 1), n_out)
        bias = torch.zeros(n_out)
        if vocab.reading.shape == (vocab.size, n_out) and vocab.size:
            reading = torch.from_numpy(vocab.reading.astype("float32"))
            bias = torch.from_numpy(vocab.reading_bias.astype("float32"))
        self.register_buffer("reading", reading)
        self.register_buffer("reading_bias", bias)
        cols = list(SENSORY_COLUMNS)
        self.register_buffer("sensory_mean", torch.from_numpy(scaler.mean[cols].astype("float32")))
        self.register_buffer("sensory_std", torch.from_numpy(scaler.std[cols].astype("float32")))
        self.eval()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        text_present: torch.Tensor,
        lex_nodes: torch.Tensor,
        lex_attrs: torch.Tensor,
        words: torch.Tensor,
        numeric: torch.Tensor,
        numeric_mask: torch.Tensor,
        context: torch.Tensor,
        context_len: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        net = self.net
        text_emb = self.text_model(input_ids, attention_mask)
        has_words = (words.abs().sum(dim=1, keepdim=True) > 0).to(words.dtype)
        reading = (words @ self.get_buffer("reading") + self.get_buffer("reading_bias")) * has_words
        parts = [
            net.text(text_emb, text_present),
            net.sensory(lex_nodes, lex_attrs, words, reading),
            net.numeric(numeric, numeric_mask),
            self.context(context, context_len),
        ]
        # The learned block, the decodable block (readings, family evidence, notes) and slack.
        embedding = net.fuse(parts, reading, lex_nodes, text_present, lex_attrs)
        z, logits = net.heads(embedding)
        sensory = z * self.get_buffer("sensory_std") + self.get_buffer("sensory_mean")
        return embedding, sensory.clamp(0.0, 10.0), torch.sigmoid(logits)
