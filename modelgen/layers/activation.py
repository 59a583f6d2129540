"""activation: apply an activation function elementwise."""

from pydantic import Field

from modelgen.layers.base import Activation as ActivationName
from modelgen.layers.base import LayerKind, LayerParams, Shape, register


class ActivationParams(LayerParams):
    activation: ActivationName = Field(
        description="the function applied to every value (softmax normalises over the last axis; "
        "leaky_relu has slope 0.2 below zero)"
    )


@register
class Activation(LayerKind):
    kind = "activation"
    params = ActivationParams
    summary = "Elementwise activation (softmax over the last axis)."
    example = "{activation: relu}"
    example_input = (6,)

    @staticmethod
    def output_shape(p: ActivationParams, inputs: list[Shape]) -> Shape:
        return inputs[0]
