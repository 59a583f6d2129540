"""embedding: map integer ids to learned vectors."""

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, Size, Variable, register


class EmbeddingParams(LayerParams):
    input_dim: Size = Field(description="vocabulary size: every id must lie in [0, input_dim)")
    output_dim: Size = Field(description="length of each id's vector")


@register
class Embedding(LayerKind):
    kind = "embedding"
    params = EmbeddingParams
    summary = "Look up a vector for each integer id in [0, input_dim)."
    example = "{input_dim: 50, output_dim: 8}"
    example_input = (5,)
    input_dtype = "int32"

    @staticmethod
    def output_shape(p: EmbeddingParams, inputs: list[Shape]) -> Shape:
        return inputs[0] + (p.output_dim,)

    @staticmethod
    def variables(p: EmbeddingParams, inputs: list[Shape]) -> list[Variable]:
        return [Variable("embeddings", (p.input_dim, p.output_dim), "uniform")]
