"""random_flip and random_rotation: image augmentation while training, identity otherwise.

Both draw from a seed state [seed, calls] as Keras' SeedGenerator keeps it (like dropout), one
draw per image and training step, so the two targets transform the same images the same way.
"""

from typing import Annotated, Literal

from pydantic import Field

from modelgen.layers.base import LayerKind, LayerParams, Shape, register, require_rank

IMAGES = "images (height, width, channels)"
Fraction = Annotated[float, Field(ge=-1, le=1)]


def _image_shape(p: LayerParams, inputs: list[Shape]) -> Shape:
    (shape,) = inputs
    require_rank(shape, 3, IMAGES)
    return shape


class RandomFlipParams(LayerParams):
    mode: Literal["horizontal", "vertical", "horizontal_and_vertical"] = Field(
        "horizontal_and_vertical",
        description="`horizontal` flips left-right, `vertical` top-bottom; each image is "
        "flipped with probability 1/2 (one draw per image, used for both axes)",
    )


@register
class RandomFlip(LayerKind):
    kind = "random_flip"
    params = RandomFlipParams
    summary = "Flip each image at random while training (Keras' RandomFlip); identity otherwise."
    example = "{mode: horizontal_and_vertical}"
    example_input = (4, 5, 2)
    uses_seed = True
    output_shape = staticmethod(_image_shape)


class RandomRotationParams(LayerParams):
    factor: Fraction | Annotated[list[Fraction], Field(min_length=2, max_length=2)] = Field(
        description="rotation range as a fraction of a full turn: f rotates by a uniform angle "
        "in [-f, f] * 360 degrees, [a, b] in [a, b] * 360 degrees (counter-clockwise positive)"
    )
    fill_mode: Literal["reflect", "wrap", "constant", "nearest"] = Field(
        "reflect",
        description="how points outside the image are filled: `reflect` (d c b a | a b c d | "
        "d c b a), `wrap`, `constant` (fill_value) or `nearest` (the edge pixel)",
    )
    interpolation: Literal["bilinear", "nearest"] = Field(
        "bilinear", description="how pixel values between grid points are read"
    )
    fill_value: float = Field(
        0.0, description="the value outside the image, with fill_mode constant"
    )

    @property
    def degrees(self) -> tuple[float, float]:
        """(lower, upper) angle in degrees, as Keras computes it (factor * 360.0)."""
        if isinstance(self.factor, list):
            lower, upper = sorted(self.factor)
        else:
            lower, upper = -abs(self.factor), abs(self.factor)
        return lower * 360.0, upper * 360.0


@register
class RandomRotation(LayerKind):
    kind = "random_rotation"
    params = RandomRotationParams
    summary = "Rotate each image by a random angle while training (Keras' RandomRotation)."
    example = "{factor: 0.1}"
    example_input = (5, 6, 2)
    uses_seed = True
    output_shape = staticmethod(_image_shape)
