"""devices.configure() on JAX: convolutions out of YNNPACK, a fast max-pooling gradient with the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

jax = pytest.importorskip("jax")

from utils import jax_cpu  # noqa: E402

# every kind of window: odd sides (valid pooling drops the last row), channels first, 1-D and 3-D,
# "same" that pads nothing; the last two overlap or pad, and keep Keras' own code
CASES = [((2, 7, 9, 3), 2, 2, "valid", "channels_last", ((2, 2), True)),
         ((2, 3, 8, 6), (2, 3), (2, 3), "same", "channels_first", ((2, 3), False)),
         ((2, 11, 4), 3, 3, "valid", "channels_last", ((3,), True)),
         ((1, 5, 6, 7, 2), 2, 2, "valid", "channels_last", ((2, 2, 2), True)),
         ((2, 8, 8, 3), 3, 1, "valid", "channels_last", None),
         ((2, 7, 7, 3), 2, 2, "same", "channels_last", None)]


@pytest.mark.parametrize("shape, pool, strides, padding, data_format, tiled", CASES)
def test_outputs_and_gradients_are_keras_own_bit_for_bit(shape, pool, strides, padding, data_format, tiled):
    """Ties included (ReLU zeros, values rounded to 0.1): the gradient goes to the first maximum, as before."""
    from keras.src.backend.jax import nn

    keras_pool = jax_cpu._original or nn.max_pool
    assert jax_cpu.tiled_window(shape, pool, strides, padding, data_format) == tiled
    x = jax.numpy.asarray(np.maximum(np.random.default_rng(0).normal(size=shape), 0).round(1).astype("float32"))

    def gradient(pool_function):
        def loss(inputs):
            pooled = pool_function(inputs, pool, strides, padding, data_format)
            return (pooled ** 2 + pooled).sum()
        return jax.jit(jax.grad(loss))(x)

    assert (jax_cpu.max_pool(x, pool, strides, padding, data_format)
            == keras_pool(x, pool, strides, padding, data_format)).all()
    assert (gradient(jax_cpu.max_pool) == gradient(keras_pool)).all()


_PROBE = """
import json, os, keras
from utils import devices
plan = devices.configure()
found = {"backend": plan.backend, "xla_flags": os.environ.get("XLA_FLAGS", "")}
from utils import jax_cpu
found["installed"] = jax_cpu.installed()
if plan.backend == "jax":
    import jax, jaxlib.version
    found["jaxlib"] = jaxlib.version.__version__
    layer = keras.layers.MaxPooling2D(2)
    grad = jax.grad(lambda x: layer(x).sum())
    found["jaxpr"] = str(jax.make_jaxpr(grad)(jax.numpy.ones((2, 62, 62, 4))))
    conv = keras.layers.Conv2D(32, 3)
    conv.build((32, 64, 64, 3))
    step = jax.jit(lambda x: conv(x))
    found["conv_hlo"] = step.lower(jax.numpy.ones((32, 64, 64, 3))).compile().as_text()
print(json.dumps(found))
"""


def _configure_in(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    for name in ("DOGSCATS_DEVICES", "DOGSCATS_MIXED_PRECISION"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_configure_gives_jax_on_a_cpu_both_fixes():
    """Without them: YNNPACK's first convolution and XLA:CPU's select_and_scatter_add, 3-5x slower cnn_small epochs."""
    found = _configure_in("jax")
    assert found["installed"], "devices.configure() did not install utils.jax_cpu's max_pool on the JAX backend"
    assert "select_and_scatter_add" not in found["jaxpr"] and "select_and_gather_add" not in found["jaxpr"]
    if jax_cpu.needs_xla_flag(found["jaxlib"]):
        assert found["xla_flags"] == "--xla_cpu_enable_fast_math=false " + jax_cpu.XLA_FLAG, "the user's flags kept"
        assert "%ynn_fusion" not in found["conv_hlo"], "the flag came after JAX opened its backend"
        assert "convolution" in found["conv_hlo"]


@pytest.mark.slow
def test_configure_leaves_tensorflow_alone():
    assert _configure_in("tensorflow") == {"backend": "tensorflow", "installed": False,
                                           "xla_flags": "--xla_cpu_enable_fast_math=false"}


@pytest.mark.parametrize("version, needed", [("0.10.2", True), ("0.11.0rc1", True), ("0.11.2", True),
                                             ("0.10.1", False), ("0.4.35", False), ("0.12.0", False),
                                             ("1.0", False), ("", False)])
def test_the_flag_only_goes_to_jaxlibs_that_know_it(version, needed):
    assert jax_cpu.needs_xla_flag(version) is needed


def test_configure_xla_appends_and_never_overrides_the_user():
    environ = {}
    assert jax_cpu.configure_xla(environ, "0.10.2").startswith("set")
    assert environ == {"XLA_FLAGS": jax_cpu.XLA_FLAG}
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    jax_cpu.configure_xla(environ, "0.10.2")
    assert environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2", jax_cpu.XLA_FLAG]
    own = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="}
    assert jax_cpu.configure_xla(own, "0.10.2") == "user's own"
    assert own == {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="}
    old = {}
    assert jax_cpu.configure_xla(old, "0.4.35") == "not this jaxlib" and old == {}


def test_install_is_idempotent_and_undone():
    from keras.src.backend.jax import nn

    was = jax_cpu.installed()
    try:
        assert jax_cpu.install() and jax_cpu.install()
        assert nn.max_pool is jax_cpu.max_pool and jax_cpu._original is not jax_cpu.max_pool
        jax_cpu.uninstall()
        assert not jax_cpu.installed() and nn.max_pool is not jax_cpu.max_pool
    finally:
        if was:
            jax_cpu.install()
