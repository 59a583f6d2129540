"""dense: a fully connected layer, ``activation(bias_add(x @ kernel, bias))`` on the last axis.

Takes (features,) or (steps, features) per example; image-shaped input is refused (Keras would
apply it per pixel, which is almost never meant): flatten or pool first."""

from pydantic import Field

from modelgen.layers.base import (
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    register,
)


class DenseParams(WeightedParams):
    units: Size = Field(description="output features: the size of the output's last axis")


@register
class Dense(LayerKind):
    kind = "dense"
    params = DenseParams
    summary = "Fully connected layer on the last axis."
    example = "{units: 10, activation: relu}"
    example_input = (6,)

    @staticmethod
    def output_shape(p: DenseParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) not in (1, 2):
            raise ShapeError(
                f"expects (features,) or (steps, features) per example, got shape {list(shape)}",
                "add `- flatten: {}` or `- global_avg_pool2d: {}` before it",
            )
        return shape[:-1] + (p.units,)

    @staticmethod
    def variables(p: DenseParams, inputs: list[Shape]) -> list[Variable]:
        fan_in = inputs[0][-1]
        out = [
            Variable(
                "kernel", (fan_in, p.units), p.kernel_initializer, regularizer=p.kernel_penalty
            )
        ]
        if p.use_bias:
            out.append(
                Variable("bias", (p.units,), p.bias_initializer, regularizer=p.bias_regularizer)
            )
        return out
