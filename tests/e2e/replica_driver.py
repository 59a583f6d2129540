"""Run a generated program's TPU path with no TPU: two logical CPU devices under a
MirroredStrategy stand in for the TPU cores (same code path: strategy scope, distributed
dataset, strategy.run, all-reduced gradients).

    python replica_driver.py train.py --device tpu --max-steps 4 ...
"""

from __future__ import annotations

import importlib.util
import sys

import tensorflow as tf


def main() -> None:
    program_path, argv = sys.argv[1], sys.argv[2:]
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    spec = importlib.util.spec_from_file_location("generated_program", program_path)
    program = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = program  # AutoGraph reads the source of its functions
    spec.loader.exec_module(program)
    program.connect_tpu = lambda timeout: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    program.main(argv)


if __name__ == "__main__":
    main()
