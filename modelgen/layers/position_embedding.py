"""position_embedding: a learned vector for each position of a sequence.

As ``keras_hub.layers.PositionEmbedding``: the layer reads a (steps, features) input only for
its shape and returns its learned (sequence_length, features) table, cut to the input's steps
and broadcast to the batch. It does not add the table to its input: write that as an `add`
layer (``[tokens, positions]``), as Transformer encoders do."""

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


class PositionEmbeddingParams(LayerParams):
    sequence_length: Size | None = Field(
        None,
        description="positions the table holds, at least the input's steps (default: the "
        "input's steps)",
    )
    initializer: Initializer = Field(
        "glorot_uniform", description="how the table's starting values are drawn (seeded)"
    )


def _table(p: PositionEmbeddingParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    if len(shape) != 2:
        raise ShapeError(
            f"expects sequences (steps, features) per example, got shape {list(shape)}",
            "put it after an `embedding` layer, whose output is (steps, features)",
        )
    length = p.sequence_length or shape[0]
    if length < shape[0]:
        raise ShapeError(
            f"sequence_length {length} is shorter than the input's {shape[0]} steps",
            f"set sequence_length to at least {shape[0]}",
        )
    return (length, shape[1])


@register
class PositionEmbedding(LayerKind):
    kind = "position_embedding"
    params = PositionEmbeddingParams
    summary = (
        "A learned vector per position, the same for every example (keras_hub's "
        "PositionEmbedding); add it to token embeddings with `add`."
    )
    example = "{}"
    example_input = (5, 4)

    @staticmethod
    def output_shape(p: PositionEmbeddingParams, inputs: list[Shape]) -> Shape:
        _table(p, inputs)
        return inputs[0]

    @staticmethod
    def variables(p: PositionEmbeddingParams, inputs: list[Shape]) -> list[Variable]:
        return [Variable("embeddings", _table(p, inputs), p.initializer)]
