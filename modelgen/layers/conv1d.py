"""conv1d: 1-D convolution over (steps, channels) inputs, channels last."""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import (
    MAX_SIZE,
    LayerKind,
    Shape,
    ShapeError,
    Size,
    Variable,
    WeightedParams,
    conv_output_length,
    register,
    require_rank,
)


class Conv1DParams(WeightedParams):
    filters: Size
    kernel_size: Size
    strides: Size = 1
    padding: Literal["valid", "same"] = "valid"
    dilation_rate: Annotated[int, Field(gt=0, le=MAX_SIZE)] = 1


@register
class Conv1D(LayerKind):
    kind = "conv1d"
    params = Conv1DParams
    summary = "1-D convolution over sequences, channels last (NWC)."
    example = "{filters: 8, kernel_size: 3, padding: same, activation: relu}"
    example_input = (8, 3)

    @staticmethod
    def output_shape(p: Conv1DParams, inputs: list[Shape]) -> Shape:
        (shape,) = inputs
        require_rank(shape, 2, "sequences (steps, channels)")
        if p.dilation_rate > 1 and p.strides != 1:
            raise ShapeError("dilation_rate > 1 needs strides 1")
        steps = conv_output_length(shape[0], p.kernel_size, p.strides, p.padding, p.dilation_rate)
        if steps <= 0:
            raise ShapeError(
                f"kernel {p.kernel_size} does not fit input {list(shape)} with padding 'valid'",
                "use padding: same or a smaller kernel_size",
            )
        return (steps, p.filters)

    @staticmethod
    def variables(p: Conv1DParams, inputs: list[Shape]) -> list[Variable]:
        kernel = (p.kernel_size, inputs[0][-1], p.filters)
        out = [Variable("kernel", kernel, p.kernel_initializer, l2=p.l2)]
        if p.use_bias:
            out.append(Variable("bias", (p.filters,), p.bias_initializer))
        return out
