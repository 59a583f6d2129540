"""modelgen: compile a declarative YAML model spec into Keras 3 or low-level TensorFlow code."""

__version__ = "0.1.0"

#: TensorFlow / Keras minor versions on which target equivalence was verified.
VERIFIED_TENSORFLOW = "2.21"
VERIFIED_KERAS = "3.15"

__all__ = ["__version__", "VERIFIED_TENSORFLOW", "VERIFIED_KERAS"]
