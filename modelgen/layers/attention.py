"""multi_head_attention: Keras' MultiHeadAttention on sequences (self- and cross-attention).

One input is self-attention (query = value = key); two are ``[query, value]`` (the key is the
value); three are ``[query, value, key]``. Every input is (steps, features) per example.
Padding masks (``mask_zero``) on the query, value and key are applied as Keras applies them:
a query step or a key step that is padding is left out of the attention, and the output
carries the query's mask.
Keras builds four EinsumDense sublayers, ``query``, ``key``, ``value`` and
``attention_output``, whose weights are saved as ``<layer>/query/kernel`` and so on. This
module also decides, once, every detail the two emitters print (``AttentionPlan``): the
kernels' fans, how Keras adds each bias, which attention path Keras runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from modelgen.layers.base import (
    Initializer,
    LayerKind,
    LayerParams,
    Shape,
    ShapeError,
    Size,
    Variable,
    register,
)

__all__ = ["AttentionPlan", "MultiHeadAttentionParams", "Projection", "keras_add"]

#: Where the large negative numbers come from: Keras' dot_product_attention (TF backend,
#: ``nn._get_large_negative``) and its Softmax layer with a mask (``_large_negative_number``).
DOT_PRODUCT_MASK_VALUE = "3.38953e38 * -0.7"
SOFTMAX_MASK_VALUE = "-1e9"


class MultiHeadAttentionParams(LayerParams):
    num_heads: Size = Field(description="number of attention heads")
    key_dim: Size = Field(description="size of each head's query and key vectors")
    value_dim: Size | None = Field(
        None, description="size of each head's value vectors (default: key_dim)"
    )
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0,
        description="dropout rate on the attention probabilities while training (seeded from "
        "the spec's seed)",
    )
    use_bias: bool = Field(True, description="the four projections add learned biases")
    output_shape: Size | Annotated[list[Size], Field(min_length=1, max_length=3)] | None = Field(
        None,
        description="features of each output step: an int or a list (default: the query's "
        "features, so the output can be added back to the query)",
    )
    kernel_initializer: Initializer = Field(
        "glorot_uniform",
        description="how the projection kernels' starting values are drawn (seeded; Keras "
        "gives the four projections copies of one initializer, so they share its seed)",
    )
    bias_initializer: Initializer = Field(
        "zeros", description="how the projection biases' starting values are drawn"
    )
    use_causal_mask: bool = Field(
        False,
        description="query step t attends only to key steps 0..t (a decoder's mask)",
    )

    @property
    def value_size(self) -> int:
        """Each head's value size, as Keras resolves it."""
        return self.value_dim or self.key_dim

    def out_features(self, query: Shape) -> Shape:
        """The features of each output step."""
        if self.output_shape is None:
            return (query[-1],)
        if isinstance(self.output_shape, int):
            return (self.output_shape,)
        return tuple(self.output_shape)

    @staticmethod
    def drawn_shape(variable: Variable) -> Shape:
        """The shape a weight's initializer draws: Keras' EinsumDense counts a kernel's fans
        over its input axes and output axes, so a kernel is drawn as that (inputs, outputs)
        matrix (the same numbers, reshaped); a bias as itself."""
        shape = variable.shape
        if variable.name.endswith("/kernel"):
            split = 2 if variable.name.startswith("attention_output/") else 1
            return (math.prod(shape[:split]), math.prod(shape[split:]))
        return shape

    def plan(
        self,
        shape_of: Callable[[str], Shape],
        inputs: list[str],
        masks: tuple[str | None, str | None, str | None] = (None, None, None),
    ) -> AttentionPlan:
        """Everything the emitters print for this layer, given its input names and the
        padding masks its query, value and key carry (the names of their embeddings)."""
        return _plan(self, [shape_of(name) for name in inputs], masks)


def keras_add(x: tuple[int | None, ...], bias: Shape) -> tuple[str | None, bool]:
    """How Keras' ``ops.add(x, bias)`` runs on TensorFlow (backend/tensorflow/numpy.py):
    ``tf.nn.bias_add`` when ``bias`` squeezes to a vector matching ``x``'s axis 1 or its last
    axis. Returns (data format, or None for a plain broadcast ``tf.add``; whether the bias is
    squeezed first). ``x`` includes the batch (None)."""
    squeezed = [d for d in bias if d > 1]
    if len(squeezed) == 1 and len(x) > 1 and squeezed[0] in (x[1], x[-1]):
        return ("NHWC" if x[-1] == squeezed[0] else "NCHW"), len(bias) > 1
    return None, False


@dataclass(frozen=True)
class Projection:
    """One of Keras' EinsumDense sublayers."""

    name: str
    kernel: Shape
    bias: Shape | None
    #: "NHWC" / "NCHW": a tf.nn.bias_add; None: a broadcast tf.add (see ``keras_add``).
    bias_format: str | None
    squeeze_bias: bool


@dataclass(frozen=True)
class AttentionPlan:
    steps: int  # T, the query's steps
    source_steps: int  # S, the value's (and key's) steps
    heads: int
    key_dim: int
    value_dim: int
    #: query, key, value, attention_output, in Keras' order (which is its weights' order).
    projections: tuple[Projection, ...]
    #: Keras' dot_product_attention (no dropout) or its explicit softmax-and-dropout path.
    dot_product: bool
    causal: bool
    #: The output projection's einsum, when Keras runs it with tf.einsum (several output
    #: axes); None when it runs as a matmul (one output axis).
    output_equation: str | None
    #: The padding masks of the query, the value and the key (embedding names, or None).
    masks: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def mask_terms(self) -> list[tuple[str, str | None]]:
        """The parts of Keras' attention mask (``_compute_attention_mask``), in its order:
        ("query" | "value" | "key", embedding) for each padding mask, ("causal", None) last.
        Keras ANDs them into one (batch, query steps, key steps) mask."""
        terms: list[tuple[str, str | None]] = [
            (role, mask)
            for role, mask in zip(("query", "value", "key"), self.masks, strict=True)
            if mask is not None
        ]
        return terms + ([("causal", None)] if self.causal else [])

    @property
    def scale(self) -> str:
        """The Python expression of Keras' ``1.0 / math.sqrt(float(key_dim))``."""
        return f"1.0 / math.sqrt({float(self.key_dim)!r})"

    @property
    def mask_value(self) -> str:
        return DOT_PRODUCT_MASK_VALUE if self.dot_product else SOFTMAX_MASK_VALUE


def _sequences(inputs: list[Shape]) -> list[Shape]:
    names = ("query", "value", "key")
    for name, shape in zip(names, inputs, strict=False):
        if len(shape) != 2:
            raise ShapeError(
                f"expects the {name} as sequences (steps, features) per example, got shape "
                f"{list(shape)}",
                f"reshape it to (steps, features) first, e.g. `- reshape: {{target_shape: "
                f"[{shape[0]}, 1]}}`"
                if len(shape) == 1
                else "reshape it to (steps, features) first",
            )
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    key = inputs[2] if len(inputs) > 2 else value
    if key[0] != value[0]:
        raise ShapeError(
            f"the value has {value[0]} steps but the key has {key[0]}: each key step is paired "
            "with a value step",
            "give the value and the key the same number of steps",
        )
    return [query, value, key]


def _plan(
    p: MultiHeadAttentionParams,
    inputs: list[Shape],
    masks: tuple[str | None, str | None, str | None] = (None, None, None),
) -> AttentionPlan:
    query, value, key = _sequences(inputs)
    heads, kd, vd = p.num_heads, p.key_dim, p.value_size
    out = p.out_features(query)
    projections = []
    for name, shape, size in (("query", query, kd), ("key", key, kd), ("value", value, vd)):
        bias = (heads, size) if p.use_bias else None
        fmt, squeeze = keras_add((None, shape[0], heads, size), bias) if bias else (None, False)
        projections.append(Projection(name, (shape[-1], heads, size), bias, fmt, squeeze))
    bias = out if p.use_bias else None
    fmt, squeeze = keras_add((None, query[0], *out), bias) if bias else (None, False)
    kernel = (heads, vd, *out)
    projections.append(Projection("attention_output", kernel, bias, fmt, squeeze))
    letters = "efg"[: len(out)]
    return AttentionPlan(
        steps=query[0],
        source_steps=value[0],
        heads=heads,
        key_dim=kd,
        value_dim=vd,
        projections=tuple(projections),
        dot_product=p.dropout == 0,
        causal=p.use_causal_mask,
        output_equation=None if len(out) == 1 else f"abcd,cd{letters}->ab{letters}",
        masks=masks,
    )


@register
class MultiHeadAttention(LayerKind):
    kind = "multi_head_attention"
    params = MultiHeadAttentionParams
    summary = (
        "Multi-head scaled dot-product attention over sequences: one input for "
        "self-attention, or [query, value] / [query, value, key]."
    )
    example = "{num_heads: 2, key_dim: 3}"
    example_input = (5, 8)
    max_inputs = 3
    uses_seed = True

    @staticmethod
    def output_shape(p: MultiHeadAttentionParams, inputs: list[Shape]) -> Shape:
        query = _sequences(inputs)[0]
        return (query[0], *p.out_features(query))

    @staticmethod
    def variables(p: MultiHeadAttentionParams, inputs: list[Shape]) -> list[Variable]:
        out = []
        for proj in _plan(p, inputs).projections:
            out.append(Variable(f"{proj.name}/kernel", proj.kernel, p.kernel_initializer))
            if proj.bias is not None:
                out.append(Variable(f"{proj.name}/bias", proj.bias, p.bias_initializer))
        return out
