"""embedding: map integer ids to learned vectors.

With ``mask_zero`` the layer also makes Keras' padding mask ``ids != 0``; how it flows to later
layers is decided in ``modelgen/graph.py`` (``_flow_masks``)."""

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, Size, Variable, register


class EmbeddingParams(LayerParams):
    input_dim: Size = Field(description="vocabulary size: every id must lie in [0, input_dim)")
    output_dim: Size = Field(description="length of each id's vector")
    mask_zero: bool = Field(
        False,
        description="treat id 0 as padding: recurrent layers after it skip those steps, "
        "multi_head_attention leaves them out of the attention and global_avg_pool1d out of "
        "its mean (the mask passes through dense, dropout, activation, layer_norm and "
        "attention, and add/subtract/average when every input has it; flatten, reshape, "
        "convolutions and position_embedding drop it, as in Keras)",
    )


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
