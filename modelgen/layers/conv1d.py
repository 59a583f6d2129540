"""conv1d: 1-D convolution over (steps, channels) inputs, channels last."""

from typing import Literal

from pydantic import Field

from modelgen.layers.base import (
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
from modelgen.layers.conv2d import GROUPS_DESCRIPTION, check_groups
from modelgen.layers.conv_common import Dilation


class Conv1DParams(WeightedParams):
    filters: Size = Field(description="output channels: the number of convolution kernels")
    kernel_size: Size = Field(description="length of the convolution window, in steps")
    strides: Size = Field(1, description="steps the window moves between outputs")
    padding: Literal["valid", "same", "causal"] = Field(
        "valid",
        description="`same` pads so the output keeps the input's length (with strides 1); "
        "`causal` pads at the start only, so output step t sees input steps <= t; "
        "`valid` does not pad",
    )
    dilation_rate: Dilation = Field(
        1,
        description="spacing between the window's taps (dilated convolution); > 1 needs strides 1",
    )
    groups: Size = Field(1, description=GROUPS_DESCRIPTION)


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
            raise ShapeError(
                "dilation_rate > 1 needs strides 1", "use strides: 1 or dilation_rate: 1"
            )
        # Causal padding keeps the length as `same` does (it pads the start only).
        padding = "same" if p.padding == "causal" else p.padding
        steps = conv_output_length(shape[0], p.kernel_size, p.strides, padding, p.dilation_rate)
        if steps <= 0:
            raise ShapeError(
                f"kernel {p.kernel_size} does not fit input {list(shape)} with padding 'valid'",
                "use padding: same or a smaller kernel_size",
            )
        check_groups(p.filters, p.groups, shape[-1])
        return (steps, p.filters)

    @staticmethod
    def variables(p: Conv1DParams, inputs: list[Shape]) -> list[Variable]:
        kernel = (p.kernel_size, inputs[0][-1] // p.groups, p.filters)
        out = [Variable("kernel", kernel, p.kernel_initializer, l2=p.l2)]
        if p.use_bias:
            out.append(Variable("bias", (p.filters,), p.bias_initializer))
        return out
