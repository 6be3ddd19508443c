"""Every ``DOGSCATS_*`` environment variable, declared once, and the one function that reads them.

:data:`SETTINGS` lists each variable with its type, default, meaning and where it
matters; :func:`read` is how ``utils``, ``course`` and ``benchmarks`` get a value:
checked against the declaration, with an error that names the variable and what
it accepts. The README's table of variables is generated from :data:`SETTINGS`
(``python -m course.tools.settings_table readme``), and a test fails when a module
reads a ``DOGSCATS_*`` variable any other way.

Nothing here runs at import time: the environment is read when :func:`read` is
called. An unset variable, or one set to blank, takes its default.

Types (:attr:`Setting.kind`):

========  =====================================================================
path      a file or folder; ``~`` expanded, relative paths left to the caller
int       a whole number (``2e10`` is accepted where it is whole)
float     a number
choice    one of :attr:`Setting.choices`, case and surrounding spaces ignored
bool      ``1/true/yes/on`` or ``0/false/no/off``
str       any text
========  =====================================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

KINDS = ("path", "int", "float", "choice", "bool", "str")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One ``DOGSCATS_*`` environment variable.

    Attributes
    ----------
    name : str
        The variable, e.g. ``"DOGSCATS_PROFILE"``.
    kind : str
        One of :data:`KINDS`.
    default : object
        What :func:`read` returns when the variable is unset or blank, already of
        the setting's type; ``None`` where the caller decides (``default_text``
        says what it does).
    meaning : str
        One sentence: what the value changes.
    where : str
        Where it matters: the notebooks, commands or modules that read it.
    choices : tuple of str
        The accepted values of a ``choice`` (lower case).
    positive : bool
        For ``int`` and ``float``: only values above 0 are accepted.
    changes_results : bool
        Whether another value makes a notebook compute other numbers (not only
        run faster or elsewhere). ``make course`` holds these in every
        notebook's resume key (``course.run.state.SWITCHES``), so a run under
        another value executes the notebooks again.
    default_text : str
        The default as the README shows it; by default ``default`` written out.
    headless : str
        The value that commands executing notebooks without a screen (``make course``,
        ``make test``) give their kernels unless the user set one (:func:`apply_headless`);
        empty: none.
    """

    name: str
    kind: str
    default: object
    meaning: str
    where: str
    choices: tuple = ()
    positive: bool = False
    changes_results: bool = False
    default_text: str = ""
    headless: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"{self.name}: choices are given exactly for a 'choice'")

    @property
    def accepted(self) -> str:
        """What the variable accepts, in words (used in error messages and the README)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "0 or 1 (also false/true, no/yes, off/on)"
        if self.kind == "int":
            return "a positive number (a whole one)" if self.positive else "an integer"
        if self.kind == "float":
            return "a positive number" if self.positive else "a number"
        return "a path" if self.kind == "path" else "any text"

    @property
    def shown_default(self) -> str:
        """:attr:`default_text`, else the default written as it would be set."""
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        if isinstance(self.default, int):
            return f"{self.default:,}"
        return str(self.default)

    def parse(self, text: str):
        """The value of ``text`` (already stripped, not blank) for this setting.

        Raises
        ------
        ValueError
            If ``text`` is not what :attr:`accepted` says, naming the variable.
        """
        wrong = ValueError(f"{self.name} must be {self.accepted}, not {text!r} ({self.meaning})")
        if self.kind == "path":
            return Path(text).expanduser()
        if self.kind == "str":
            return text
        if self.kind == "choice":
            value = text.lower()
            if value not in self.choices:
                raise wrong
            return value
        if self.kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise wrong
        try:
            number = float(text)
        except ValueError:
            raise wrong from None
        if not math.isfinite(number) or (self.positive and not number > 0):
            raise wrong
        if self.kind == "float":
            return number
        try:
            return int(text)
        except ValueError:
            if not number.is_integer():
                raise wrong from None
            return int(number)


def _archive_limit(name: str, default, meaning: str, kind: str = "int") -> Setting:
    """A limit of :class:`utils.archives.ArchiveLimits`, whose field defaults are these."""
    return Setting(name, kind, default, meaning,
                   "preparing the data (`01_data_preparation`, `make course`): `utils.archives`",
                   positive=True)


#: Every ``DOGSCATS_*`` variable, in the order the README lists them.
SETTINGS = (
    Setting("DOGSCATS_PROFILE", "choice", "sample",
            "how many photos and epochs every notebook uses: smoke (CI, minutes), sample "
            "(a CPU laptop), full (a GPU or a patient CPU)",
            "every notebook (`config.current`), `make course`, `make test` (smoke), benchmarks",
            choices=("smoke", "sample", "full"), changes_results=True),
    Setting("DOGSCATS_ARCHIVE", "path", None,
            "where the raw photos are: Kaggle's `dogs-vs-cats.zip`, a bare `train.zip`/`test1.zip`, "
            "a folder holding them, Microsoft's `PetImages` (zipped or not) or an extracted folder; "
            "a relative path is taken from the working folder, else from the project",
            "`01_data_preparation`, `make course`, `make test`", default_text="unset: `data/`, then the Kaggle API"),
    Setting("DOGSCATS_DATA", "path", None,
            "the data folder: downloads, the prepared split, cached arrays",
            "every notebook; tests point it at a temporary folder", default_text="`<repo>/data`"),
    Setting("DOGSCATS_RESULTS", "path", None,
            "the results folder: records, models, figures, executed notebooks, per profile",
            "every notebook, `make course`, `make slides`/`site`; tests point it at a temporary folder",
            default_text="`<repo>/results`"),
    Setting("DOGSCATS_SEED", "int", 42,
            "the seed of every split, shuffle and weight initialisation",
            "`01_data_preparation` (the split), every training cell (`config.seed_everything`)",
            changes_results=True),
    Setting("DOGSCATS_DEVICES", "choice", "one",
            "one: Keras' own choice of one device; all: data parallelism over every GPU (or machine: "
            "`TF_CONFIG`, `KERAS_DISTRIBUTION_*`), the global batch scaled with the devices",
            "`devices.configure` in every notebook's setup cell, `config.current` (batch size)",
            choices=("one", "all"), changes_results=True),
    Setting("DOGSCATS_MIXED_PRECISION", "bool", False,
            "1: compute in 16-bit floats with float32 weights (mixed_float16 on a GPU, mixed_bfloat16 on "
            "a CPU with native bfloat16 under TensorFlow; ignored with a note elsewhere)",
            "`devices.configure` in every notebook's setup cell; `benchmarks/peers.py`",
            changes_results=True),
    Setting("DOGSCATS_BACKBONE", "choice", None,
            "the pretrained network of notebooks 05-06; unset: VGG16 when its ImageNet weights are on "
            "this machine, else EfficientNet-Lite0",
            "`05_vgg16_imagenet`, `06_vgg16_finetuning` (`transfer.choose_backbone`)",
            choices=("vgg16", "efficientnet_lite0"), changes_results=True,
            default_text="unset: VGG16 if its weights are here"),
    Setting("DOGSCATS_VGG16_WEIGHTS", "path", None,
            "a Keras VGG16 ImageNet `.h5` weights file, or a folder holding one, used instead of the "
            "Keras cache and download",
            "`05_vgg16_imagenet`, `06_vgg16_finetuning` (`weights.locate_weights`); `make course` retries "
            "a skipped lesson when it changes",
            default_text="unset: `~/.keras/models`"),
    _archive_limit("DOGSCATS_MAX_ARCHIVE_BYTES", 20 * 10**9,
                   "the most uncompressed bytes of all archives together, nested ones included"),
    _archive_limit("DOGSCATS_MAX_ARCHIVE_MEMBERS", 200_000, "the most files of all archives together"),
    _archive_limit("DOGSCATS_MAX_COMPRESSION_RATIO", 100.0,
                   "the largest uncompressed/compressed ratio of a member of 1 MB or more, or of a whole "
                   "archive (a zip bomb of zeros reaches 1,000)", kind="float"),
    _archive_limit("DOGSCATS_MAX_ARCHIVE_DEPTH", 3,
                   "how deep archives may nest (1: the archive given; Kaggle's needs 2)"),
    Setting("DOGSCATS_CHROMIUM", "path", None,
            "the Chromium executable the site and slides check drives",
            "`make site-check`, `tests/test_publish.py` (`course.publish.browser`)",
            default_text="unset: `chromium` on the PATH"),
    Setting("DOGSCATS_VENDOR", "path", None,
            "where the downloaded reveal.js and MathJax tarballs are kept",
            "`make slides`, `make site` (`course.publish.vendor`)", default_text="`<repo>/build/vendor`"),
    Setting("DOGSCATS_MISSING", "choice", "reference",
            "what a notebook opened before the ones it builds on does about their missing records: "
            "reference copies the committed reference run's records (seconds; a model it must load is "
            "trained with the short recipe), train trains each missing model now with a short recipe "
            "(minutes under sample)",
            "notebooks 03-07 and their solutions (`prerequisites.ensure_records`)",
            choices=("reference", "train")),
    Setting("DOGSCATS_TENSORBOARD", "bool", True,
            "1: notebook 03 shows TensorBoard inside the notebook (`%tensorboard`, a server it starts); "
            "0: it only says where the logs are (`make course` and the tests execute notebooks without a "
            "screen, and leave no server behind)",
            "`03_cnn`; `make course` and `make test` set 0 (`settings.apply_headless`)", headless="0"),
    Setting("DOGSCATS_TEST_DATA", "path", None,
            "the data folder the real-data tests prepare into (never the project's `data/`)",
            "`make test` (one split for its unit tests on every backend, while the notebooks prepare their own), "
            "`tests/conftest.py`",
            default_text="unset: a fresh temporary folder"),
    # The simulated Colab and Kaggle runtimes of tests/platforms.py: tests only, a learner sets none.
    Setting("DOGSCATS_CLONE_URL", "str", None,
            "tests only: the repository the platform cell clones instead of the course's (a local bare "
            "repository of the working tree)",
            "every notebook's platform cell (`course/tools/notebook_header.py`; read there with "
            "`os.environ`, as utils is not importable before the clone), `tests/platforms.py`",
            default_text="unset: `[project.urls] Repository`"),
    Setting("DOGSCATS_DRIVE", "path", None,
            "tests only: where the platform cell mounts Google Drive on Colab (`KEEP_ON_DRIVE`), so a "
            "simulation never writes `/content`",
            "`utils.cloud.mount_drive`, `tests/platforms.py`", default_text="unset: `/content/drive`"),
    Setting("DOGSCATS_KAGGLE_INPUT", "path", None,
            "tests only: the folder searched for the competitions and datasets attached to a Kaggle "
            "notebook",
            "`utils.cloud.kaggle_input_sources`, `tests/platforms.py`", default_text="unset: `/kaggle/input`"),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


def declared(name: str) -> Setting:
    """The declaration of ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not in :data:`SETTINGS`.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in utils.settings.SETTINGS") from None


def read(name: str, environ=None):
    """The value of the variable ``name``, checked against its declaration.

    Parameters
    ----------
    name : str
        A declared variable, e.g. ``"DOGSCATS_SEED"``.
    environ : mapping of str to str, optional
        Where to read; default ``os.environ``, read now (tests pass a dict).

    Returns
    -------
    object
        The parsed value (``pathlib.Path``, ``int``, ``float``, ``bool`` or
        ``str``; a choice in lower case), or the declared default when the
        variable is unset or blank.

    Raises
    ------
    KeyError
        If ``name`` is not declared.
    ValueError
        If the value is not what the setting accepts; the message names the
        variable, what it accepts and what it means.
    """
    setting = declared(name)
    environ = os.environ if environ is None else environ
    text = (environ.get(name) or "").strip()
    if not text:
        return setting.default
    return setting.parse(text)


def is_set(name: str, environ=None) -> bool:
    """Whether ``name`` is set to something other than blank (``KeyError`` if undeclared)."""
    declared(name)
    environ = os.environ if environ is None else environ
    return bool((environ.get(name) or "").strip())


def apply_headless(environ=None) -> dict:
    """Give every setting with a :attr:`Setting.headless` value that value, where it is unset or blank.

    For the commands that execute notebooks nobody looks at (``make course``'s
    runner, ``make test``); a value the user set always wins.

    Returns
    -------
    dict
        The variables it set, name to value.
    """
    environ = os.environ if environ is None else environ
    added = {s.name: s.headless for s in SETTINGS if s.headless and not is_set(s.name, environ)}
    environ.update(added)
    return added


def results_switches() -> tuple:
    """Names of the settings with :attr:`Setting.changes_results`, in declaration order."""
    return tuple(setting.name for setting in SETTINGS if setting.changes_results)
