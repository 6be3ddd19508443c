"""Mixed precision: which dtype policy ``DOGSCATS_MIXED_PRECISION=1`` asks for on this machine.

Mixed precision computes each layer in 16 bits and keeps the weights in 32
(Micikevicius et al., *Mixed Precision Training*, 2018, arXiv:1710.03740;
Keras' mixed precision guide). Every model's output layer is built with
``dtype="float32"``, so P(dog) keeps its digits near 0 and 1.

The rule: ``mixed_float16`` on a GPU; ``mixed_bfloat16`` on a CPU whose cores
multiply bfloat16 natively, TensorFlow backend only; float32 elsewhere, where
16-bit floats would be emulated and slower. :func:`utils.devices.configure`
reads the switch and applies the policy; ``benchmarks/precision.py`` measures
both policies (and XLA) on this machine.
"""

from __future__ import annotations

from utils import settings


def requested(environ=None) -> bool:
    """``DOGSCATS_MIXED_PRECISION`` of ``environ`` (default ``os.environ``) as a bool.

    ``1/true/yes/on`` or ``0/false/no/off``; ValueError for any other value
    (:func:`utils.settings.read`).
    """
    return settings.read("DOGSCATS_MIXED_PRECISION", environ)


def native_bfloat16(cpuinfo="/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX).

    Read from the ``flags`` line of ``cpuinfo`` (Linux); ``False`` where the
    file is missing or unreadable (macOS, Windows), which keeps float32.

    Parameters
    ----------
    cpuinfo : str or path-like, default "/proc/cpuinfo"
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


def policy(backend_name: str, has_accelerator: bool, has_native_bfloat16: bool) -> str:
    """The dtype policy ``DOGSCATS_MIXED_PRECISION=1`` asks for on this machine.

    ``"mixed_float16"`` with a GPU; ``"mixed_bfloat16"`` on a CPU with native
    bfloat16 under TensorFlow (its oneDNN kernels use the bfloat16 units:
    ``benchmarks/precision.py``); ``"float32"`` otherwise (JAX's and
    PyTorch's CPU kernels were not measured faster in 16 bits).
    """
    if has_accelerator:
        return "mixed_float16"
    if has_native_bfloat16 and backend_name == "tensorflow":
        return "mixed_bfloat16"
    return "float32"
