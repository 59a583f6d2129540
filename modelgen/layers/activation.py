"""activation: apply an activation function elementwise.

``relu`` takes Keras' ReLU options (``max_value: 6`` is ReLU6 as MobileNetV2 writes it,
``keras.layers.ReLU(max_value=6.0)``), ``leaky_relu`` its ``negative_slope``, ``elu`` its
``alpha``."""

from typing import Annotated

from pydantic import Field, model_validator

from modelgen.layers.base import Activation as ActivationName
from modelgen.layers.base import LayerKind, LayerParams, Shape, register

NonNegative = Annotated[float, Field(ge=0, le=3.4e38, allow_inf_nan=False)]


class ActivationParams(LayerParams):
    activation: ActivationName = Field(
        description="the function applied to every value (softmax normalises over the last axis; "
        "leaky_relu has slope 0.2 below zero; swish and hard_swish are Keras' names for silu "
        "and hard_silu)"
    )
    max_value: NonNegative | None = Field(
        None, description="with relu: the largest output (6 gives ReLU6), as keras.layers.ReLU"
    )
    negative_slope: NonNegative | None = Field(
        None,
        description="with relu: the slope below the threshold (default 0); with leaky_relu: the "
        "slope below zero (default 0.2)",
    )
    threshold: NonNegative | None = Field(
        None, description="with relu: inputs at or below it give 0 (default 0)"
    )
    alpha: NonNegative | None = Field(
        None,
        description="with elu: the scale of the negative part (default 1), as keras.layers.ELU",
    )

    @model_validator(mode="after")
    def _options_fit_activation(self) -> "ActivationParams":
        allowed = {"relu": {"max_value", "negative_slope", "threshold"}}
        allowed["leaky_relu"] = {"negative_slope"}
        allowed["elu"] = {"alpha"}
        for option in ("max_value", "negative_slope", "threshold", "alpha"):
            if getattr(self, option) is not None and option not in allowed.get(
                self.activation, set()
            ):
                users = " and ".join(a for a, options in allowed.items() if option in options)
                raise ValueError(f"{option} applies to activation {users}, not {self.activation}")
        return self

    @property
    def relu_options(self) -> bool:
        """True for a relu with any of Keras' ReLU options (a keras.layers.ReLU)."""
        return self.activation == "relu" and (
            self.max_value is not None or bool(self.negative_slope) or bool(self.threshold)
        )


@register
class Activation(LayerKind):
    kind = "activation"
    params = ActivationParams
    summary = "Elementwise activation (softmax over the last axis; relu with Keras' ReLU options)."
    example = "{activation: relu}"
    example_input = (6,)

    @staticmethod
    def output_shape(p: ActivationParams, inputs: list[Shape]) -> Shape:
        return inputs[0]
