"""Run by tests/test_devices.py in a fresh process: one epoch of a tiny model, printed as JSON.

Usage: python tests/distributed_fit.py LOGICAL_DEVICES

The backend comes from KERAS_BACKEND; DOGSCATS_DEVICES=all (and TF_CONFIG or
KERAS_DISTRIBUTION_* for several workers) is read by utils.devices.configure.
LOGICAL_DEVICES splits the CPU into that many devices first (XLA_FLAGS on JAX,
set by the caller; tf.config.set_logical_device_configuration on TensorFlow).
"""

import json
import os
import sys

import numpy as np

count = int(sys.argv[1])
if os.environ.get("KERAS_BACKEND") == "tensorflow" and count > 1:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)

import keras  # noqa: E402

from utils import devices  # noqa: E402

plan = devices.configure()
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6)).astype("float32")
y = (x[:, :1] + 0.5 * x[:, 1:2] > 0).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
# a tf.data pipeline, as the course's batches are (Keras shards it between processes on JAX)
import tensorflow as tf  # noqa: E402

dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)
if plan.backend == "tensorflow":
    replicas = int(model.distribute_strategy.num_replicas_in_sync)
elif plan.backend == "jax":
    replicas = len(model.layers[0].kernel.value.sharding.device_set)
else:
    replicas = 1
print(json.dumps({"loss": float(history.history["loss"][0]), "kernel_sum": float(kernel.sum()),
                  "replicas": replicas, "mode": plan.mode, "plan_replicas": plan.replicas}))
sys.stdout.flush()
if plan.backend == "jax" and plan.mode == "multi_worker":
    # leave together: a process whose coordinator (process 0) exits first aborts
    import jax

    jax.distributed.shutdown()
# JAX with several CPU devices (and tf.data threads) can hang while the interpreter shuts
# down, after the work is done: leave at once.
os._exit(0)
