"""The course's own Keras layers are known to Keras in every Python that imported ``utils``.

A saved ``.keras`` file names the class of each layer. Keras rebuilds its own
classes by name, but one of the course's (:mod:`utils.custom_layers`: VGG16's
and Lite0's preprocessing) only if that class is registered in the Python
that loads the file, which happens when :mod:`utils.custom_layers` is
imported. ``utils/__init__.py`` calls :func:`install`, so ``import utils``
(or ``from utils import config``) followed by plain
``keras.models.load_model(path)`` loads every model the notebooks save:

* Keras already imported: the layers are registered at once;
* Keras not imported yet: they are registered right after Keras' own import
  finishes, whoever imports it (``import keras``, ``from keras import
  layers``, ``tf.keras``), by a finder placed first in :data:`sys.meta_path`
  that steps aside once it has fired.

``import utils`` itself thus imports no Keras and stays fast (every notebook's
first cell imports it, on Colab and Kaggle before anything is installed).
:func:`register` is the one rule; :func:`utils.predict.load_model` calls it too.
"""

from __future__ import annotations

import importlib
import sys
import warnings

#: The module whose import registers every layer the course defines.
LAYERS_MODULE = "utils.custom_layers"

#: The module whose import triggers the registration.
KERAS = "keras"


def register() -> None:
    """Register every Keras layer the course defines (imports Keras). Calling it again does nothing.

    Raises
    ------
    ImportError
        If Keras is not installed.
    """
    importlib.import_module(LAYERS_MODULE)


def install() -> None:
    """Have :func:`register` run now if Keras is imported, else right after Keras is.

    Imports nothing heavy; calling it again does nothing. A failure to
    register is a :class:`RuntimeWarning`, never an error of ``import keras``
    (:func:`utils.predict.load_model` then raises it, naming the cause).
    """
    if KERAS in sys.modules:
        _register_or_warn()
    elif not any(isinstance(finder, _AfterImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImportFinder(KERAS, _register_or_warn))


def _register_or_warn() -> None:
    try:
        register()
    except Exception as error:  # a broken or old Keras: `import keras` must still work
        warnings.warn(f"the course's Keras layers are not registered ({type(error).__name__}: {error}): "
                      "a saved model holding one will not load", RuntimeWarning, stacklevel=2)


class _AfterImportFinder:
    """A meta-path finder that runs ``then()`` once the module ``name`` has been imported.

    It finds ``name`` with the finders after it (so the module and its spec are
    exactly what they would be without it), wraps the loader in
    :class:`_ThenLoader`, and leaves :data:`sys.meta_path` when ``then`` has run.
    """

    def __init__(self, name: str, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None                    # not installed: the usual ModuleNotFoundError follows
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenLoader(spec.loader, self._fire)
        return spec

    def _fire(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self.then()


class _ThenLoader:
    """The real loader, then a function once the module has run (its import complete, no error)."""

    def __init__(self, loader, then):
        self._loader, self._then = loader, then

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)   # an error here propagates; the finder stays for a retry
        if getattr(module.__spec__, "loader", None) is self:   # the module keeps the real loader
            module.__spec__.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._then()

    def __getattr__(self, name):            # get_resource_reader, is_package, ...: the real loader's
        return getattr(self._loader, name)
