"""batch_norm and layer_norm: normalisation over the last (channel) axis."""

from typing import Annotated

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, ShapeError, Variable, register


class BatchNormParams(LayerParams):
    momentum: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.99,
        description="momentum of the moving mean and variance: each training step keeps this "
        "fraction of the old value (Keras' default 0.99)",
    )
    epsilon: Annotated[float, Field(gt=0)] = Field(
        1e-3, description="added to the variance to avoid dividing by zero (Keras' default 0.001)"
    )


def _channels(inputs: list[Shape]) -> int:
    if len(inputs[0]) == 0:
        raise ShapeError("expects at least one feature axis, got a scalar per example")
    return inputs[0][-1]


@register
class BatchNorm(LayerKind):
    kind = "batch_norm"
    params = BatchNormParams
    summary = "Batch normalisation over the last axis, with moving statistics."
    example = "{}"
    example_input = (6, 6, 2)

    @staticmethod
    def output_shape(p: BatchNormParams, inputs: list[Shape]) -> Shape:
        _channels(inputs)
        return inputs[0]

    @staticmethod
    def variables(p: BatchNormParams, inputs: list[Shape]) -> list[Variable]:
        c = (_channels(inputs),)
        return [
            Variable("gamma", c, "ones"),
            Variable("beta", c, "zeros"),
            Variable("moving_mean", c, "zeros", trainable=False),
            Variable("moving_variance", c, "ones", trainable=False),
        ]


class LayerNormParams(LayerParams):
    epsilon: Annotated[float, Field(gt=0)] = Field(
        1e-3, description="added to the variance to avoid dividing by zero (Keras' default 0.001)"
    )


@register
class LayerNorm(LayerKind):
    kind = "layer_norm"
    params = LayerNormParams
    summary = "Layer normalisation over the last axis."
    example = "{}"
    example_input = (5, 4)

    @staticmethod
    def output_shape(p: LayerNormParams, inputs: list[Shape]) -> Shape:
        _channels(inputs)
        return inputs[0]

    @staticmethod
    def variables(p: LayerNormParams, inputs: list[Shape]) -> list[Variable]:
        c = (_channels(inputs),)
        return [Variable("gamma", c, "ones"), Variable("beta", c, "zeros")]
