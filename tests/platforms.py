"""A notebook opened alone on a fresh Colab or Kaggle runtime, simulated on this machine (helpers, not tests).

What a learner's click on a badge gives: a new runtime holding one ``.ipynb`` and no
course, whose platform cell must clone the course, install what is missing and find
the photos. Here:

- :func:`bare_repository`: the course to clone, a local bare repository holding one
  commit of the working tree as it is now (tracked and untracked files, not the
  ignored ones), so a test clones what is being tested and never GitHub;
- :func:`kaggle_runtime`: the environment of a Kaggle notebook with the Redux
  competition attached (``KAGGLE_KERNEL_RUN_TYPE``, ``DOGSCATS_KAGGLE_INPUT`` holding
  symlinks to the shared photos);
- :func:`colab_runtime`: the environment of a Colab notebook: a stand-in package
  ``google.colab`` (a ``KAGGLE_API_TOKEN`` secret, ``drive.mount``), Drive under the
  test's folder (``DOGSCATS_DRIVE``) and Kaggle's API answered by a local HTTP server
  (:class:`KaggleStandIn`) that serves the shared photos to ``kagglehub``;
- :func:`run_notebook_alone`: one notebook copied alone into an empty folder and
  executed with nbclient in that environment, under ``DOGSCATS_PROFILE=smoke``.

Both runtimes hide this machine's editable install of the course from Python (a
``sitecustomize`` on their ``PYTHONPATH``; the repository itself is never on it), give
a fresh ``HOME`` and leave out every ``DOGSCATS_*``, ``KAGGLE*`` and ``KERAS_*``
variable of the caller. The platform cell's clone URL is ``DOGSCATS_CLONE_URL``.
"""

from __future__ import annotations

import atexit
import email.utils
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from utils import settings, sources

ROOT = Path(__file__).resolve().parent.parent
#: The Kaggle competition the course uses (the Redux edition).
COMPETITION = sources.KAGGLE_COMPETITION
#: The value of the simulated Colab secret ``KAGGLE_API_TOKEN``: the stand-in accepts this token only.
KAGGLE_TOKEN = "KGAT_simulated_runtime_token"
#: Variables of this machine a fresh runtime does not have (their prefixes).
_NOT_ON_A_FRESH_RUNTIME = ("DOGSCATS_", "KAGGLE", "KERAS_", "PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON",
                           "MPLBACKEND", "TF_CPP_", "COLAB_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                           "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy")

# What keeps the course's editable install (pip install -e .) out of a simulated runtime's Python.
_SITECUSTOMIZE = '''\
"""tests/platforms.py: a fresh runtime has no course installed; drop this machine's editable install of it."""
import sys

_PREFIX = "__editable___dogscats_course"
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if not str(getattr(finder, "__module__", "")).startswith(_PREFIX)]
sys.path_hooks[:] = [hook for hook in sys.path_hooks
                     if not str(getattr(hook, "__module__", "")).startswith(_PREFIX)]
sys.path[:] = [entry for entry in sys.path if entry != {root!r}]
sys.path_importer_cache.clear()
'''


# --------------------------------------------------------------------------- the course to clone
def _git(*args, cwd=ROOT, env=None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()


def bare_repository(tmp) -> Path:
    """A bare git repository at ``<tmp>/course.git`` whose branch ``main`` is the working tree as it is now.

    One commit of every file ``git add -A`` would take (tracked ones as they are on
    disk, untracked ones that are not ignored; deleted ones left out), made with a
    temporary index and a temporary object folder: the project's ``.git`` is only
    read (its objects serve as alternates), never written.

    Parameters
    ----------
    tmp : pathlib.Path
        An empty temporary folder (``course.git``, the index and the new objects go there).

    Returns
    -------
    pathlib.Path
        The bare repository; clone it as ``file://<path>``.

    Raises
    ------
    RuntimeError
        If a git command fails (its message included).
    """
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    objects = (ROOT / _git("rev-parse", "--git-path", "objects")).resolve()
    index = (ROOT / _git("rev-parse", "--git-path", "index")).resolve()
    scratch = {"GIT_INDEX_FILE": str(tmp / "index"), "GIT_OBJECT_DIRECTORY": str(tmp / "objects"),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
               "GIT_AUTHOR_NAME": "tests/platforms.py", "GIT_AUTHOR_EMAIL": "tests@localhost",
               "GIT_COMMITTER_NAME": "tests/platforms.py", "GIT_COMMITTER_EMAIL": "tests@localhost"}
    env = {**os.environ, **scratch}
    (tmp / "objects").mkdir(exist_ok=True)
    if index.is_file():  # its file stats spare hashing the files that did not change
        shutil.copyfile(index, tmp / "index")
    _git("add", "-A", env=env)
    tree = _git("write-tree", env=env)
    commit = _git("commit-tree", tree, "-m", "the working tree, for tests/platforms.py", env=env)
    bare = tmp / "course.git"
    _git("init", "--quiet", "--bare", str(bare), cwd=tmp)
    _git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    _git("push", "--quiet", str(bare), f"{commit}:refs/heads/main", env=env)
    return bare


def clone_url(repository: Path) -> str:
    """The ``file://`` URL of a local repository (what ``DOGSCATS_CLONE_URL`` takes; ``--depth`` works with it)."""
    return Path(repository).resolve().as_uri()


# --------------------------------------------------------------------------- the photos as a platform offers them
def archive_files(archive) -> list[Path]:
    """The files of the real archive a platform offers: a folder's zips (``train.zip``, ``test1.zip``...), or the file.

    Raises
    ------
    FileNotFoundError
        If ``archive`` is neither a zip file nor a folder holding one.
    """
    archive = Path(archive).resolve()
    found = sorted(archive.glob("*.zip")) if archive.is_dir() else [archive] if archive.is_file() else []
    if not found:
        raise FileNotFoundError(f"{archive} holds no zip file: give the shared photos' folder or a Kaggle zip")
    return found


def _fresh_environment(tmp: Path, repository: Path | None) -> dict:
    """This machine's environment as a fresh runtime has it: no course, no settings of ours, a new HOME,
    and ``DOGSCATS_CLONE_URL`` at ``repository`` (default a new :func:`bare_repository` under ``tmp``)."""
    repository = repository or bare_repository(tmp / "repository")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_ON_A_FRESH_RUNTIME)}
    hide = tmp / "no-installed-course"
    hide.mkdir(parents=True, exist_ok=True)
    (hide / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(root=str(ROOT)), encoding="utf-8")
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), PYTHONPATH=str(hide), DOGSCATS_CLONE_URL=clone_url(repository),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def kaggle_runtime(tmp, archive, repository: Path | None = None) -> dict:
    """The environment of a fresh Kaggle notebook with the Redux competition attached.

    ``KAGGLE_KERNEL_RUN_TYPE=Interactive`` (as Kaggle sets it), ``DOGSCATS_KAGGLE_INPUT``
    at ``<tmp>/kaggle/input`` holding ``dogs-vs-cats-redux-kernels-edition/`` with a
    symlink to each of :func:`archive_files`, ``DOGSCATS_CLONE_URL`` at the bare
    repository, and none of the caller's ``DOGSCATS_*`` (no archive, data or results).

    Parameters
    ----------
    tmp : pathlib.Path
        A temporary folder of this runtime.
    archive : pathlib.Path
        The real photos (the shared folder, or a Kaggle zip).
    repository : pathlib.Path, optional
        The bare repository to clone; default a new :func:`bare_repository` under ``tmp``.

    Returns
    -------
    dict of str to str
        The whole environment of the runtime's kernel.
    """
    tmp = Path(tmp)
    inputs = tmp / "kaggle" / "input"
    attached = inputs / COMPETITION
    attached.mkdir(parents=True, exist_ok=True)
    for source in archive_files(archive):
        (attached / source.name).symlink_to(source)
    env = _fresh_environment(tmp, repository)
    env.update(KAGGLE_KERNEL_RUN_TYPE="Interactive", DOGSCATS_KAGGLE_INPUT=str(inputs))
    return env


# --------------------------------------------------------------------------- Colab
_COLAB_INIT = '''\
"""A stand-in for Colab's google.colab (tests/platforms.py): userdata and drive."""
'''
_COLAB_USERDATA = '''\
"""Colab's secrets, as the key icon holds them: {secrets!r} (tests/platforms.py)."""


class SecretNotFoundError(Exception):
    pass


class NotebookAccessError(Exception):
    pass


_SECRETS = {secrets!r}
_NOT_GRANTED = {not_granted!r}


def get(key):
    if key in _NOT_GRANTED:
        raise NotebookAccessError(key)
    if key not in _SECRETS:
        raise SecretNotFoundError(key)
    return _SECRETS[key]
'''
_COLAB_DRIVE = '''\
"""Colab's drive.mount (tests/platforms.py): the mount point gets a MyDrive folder."""
import os


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
    print("Mounted at " + mountpoint)
'''


def colab_userdata_source(secrets: dict, not_granted=()) -> str:
    """The stand-in ``google.colab.userdata`` module's source: ``get`` and Colab's two errors, by their names.

    ``secrets`` is what ``get`` returns; a name in ``not_granted`` raises ``NotebookAccessError``
    (the secret exists, notebook access is off), any other missing name ``SecretNotFoundError``.
    """
    return _COLAB_USERDATA.format(secrets=dict(secrets), not_granted=tuple(not_granted))


def colab_package(folder, secrets: dict | None = None, not_granted=()) -> Path:
    """Write a stand-in package ``google.colab`` under ``folder``; return ``folder`` (for ``PYTHONPATH``).

    ``google`` stays a namespace package (no ``google/__init__.py``), so
    ``google.protobuf`` of site-packages is still found, as on Colab.

    Parameters
    ----------
    folder : pathlib.Path
        Where ``google/colab/`` is written.
    secrets : dict of str to str, optional
        What ``userdata.get`` returns; default ``{"KAGGLE_API_TOKEN": KAGGLE_TOKEN}``.
    not_granted : tuple of str
        Secrets that exist but raise ``NotebookAccessError`` (notebook access off).
    """
    package = Path(folder) / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    secrets = {"KAGGLE_API_TOKEN": KAGGLE_TOKEN} if secrets is None else dict(secrets)
    (package / "__init__.py").write_text(_COLAB_INIT, encoding="utf-8")
    (package / "userdata.py").write_text(colab_userdata_source(secrets, not_granted), encoding="utf-8")
    (package / "drive.py").write_text(_COLAB_DRIVE, encoding="utf-8")
    return Path(folder)


def photo_subset(archive, folder, per_class: int = 600, unlabelled: int = 100) -> Path:
    """Kaggle-layout zips of part of the shared photos: another data set, as Kaggle's own download is.

    ``<folder>/train.zip`` holds ``per_class`` cats and as many dogs (every
    k-th photo of each class of the shared ``train.zip``), ``<folder>/test1.zip``
    the first ``unlabelled`` unlabelled photos: the same layout and real
    photos, fewer of them (a split in seconds), and another split than the
    shared folder's, so the committed reference records do not match its test
    photos (as with Kaggle's 25,000): a notebook opened alone must train stand-ins.

    Returns
    -------
    pathlib.Path
        ``folder``, for :func:`archive_files` and :func:`kaggle_stand_in`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sources = {path.name: path for path in archive_files(archive)}
    with zipfile.ZipFile(sources["train.zip"]) as train, \
            zipfile.ZipFile(folder / "train.zip", "w", zipfile.ZIP_STORED) as subset:
        for label in ("cat", "dog"):
            names = sorted((n for n in train.namelist() if Path(n).name.startswith(label + ".")),
                           key=lambda n: int(Path(n).stem.split(".")[1]))
            step = max(1, len(names) // per_class)
            for name in names[::step][:per_class]:
                subset.writestr(name, train.read(name))
    with zipfile.ZipFile(sources["test1.zip"]) as test, \
            zipfile.ZipFile(folder / "test1.zip", "w", zipfile.ZIP_STORED) as subset:
        names = sorted((n for n in test.namelist() if n.endswith(".jpg")), key=lambda n: int(Path(n).stem))
        for name in names[:unlabelled]:
            subset.writestr(name, test.read(name))
    return folder


class KaggleStandIn(ThreadingHTTPServer):
    """Kaggle's API for one competition, on 127.0.0.1, reached by ``kagglehub`` as an HTTP proxy.

    kagglehub 1.0.3 takes its endpoint from ``KAGGLE_API_ENVIRONMENT`` only
    (``LOCALHOST``: ``http://localhost``); with ``HTTP_PROXY`` pointing here, its
    requests arrive here whatever port is free. It answers like Kaggle:
    ``DownloadDataFiles`` with a 401 without the right bearer token, a 302 to the
    archive otherwise, and the archive: a zip (stored, built once per process in
    a temporary folder) of :func:`archive_files`, which kagglehub extracts into its
    cache, so the download ends as the same files as the shared folder.

    Attributes
    ----------
    requests_seen : list of tuple
        ``(method, path, Authorization header)`` of each request, in order.
    """

    daemon_threads = True

    def __init__(self, archive, token: str = KAGGLE_TOKEN, competition: str = COMPETITION):
        super().__init__(("127.0.0.1", 0), _KaggleHandler)
        self.files = archive_files(archive)
        self.token, self.competition = token, competition
        self.requests_seen: list[tuple] = []
        self._zip: Path | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True, name="kaggle-stand-in").start()

    @property
    def proxy(self) -> str:
        """``http://127.0.0.1:<port>``: the value of ``HTTP_PROXY``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def archive_zip(self) -> Path:
        """The competition's download: a stored zip of the shared files, built at the first request."""
        with self._lock:
            if self._zip is None:
                folder = Path(tempfile.mkdtemp(prefix="dogscats-kaggle-stand-in-"))
                atexit.register(shutil.rmtree, folder, True)
                target = folder / f"{self.competition}.zip"
                with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as bundle:
                    for path in self.files:
                        bundle.write(path, path.name)
                self._zip = target
            return self._zip


class _KaggleHandler(BaseHTTPRequestHandler):
    server: KaggleStandIn

    def log_message(self, *args):  # quiet: the requests are in requests_seen
        pass

    def _answer(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, message: str):
        self._answer(status, json.dumps({"code": status, "message": message}).encode(),
                     {"Content-Type": "application/json"})

    def do_POST(self):
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        self.server.requests_seen.append(("POST", path, self.headers.get("Authorization")))
        if not path.endswith("/competitions.CompetitionApiService/DownloadDataFiles"):
            return self._json(404, f"the stand-in of tests/platforms.py knows no {path}")
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return self._json(401, "Unauthenticated")
        if self.server.competition not in body:
            return self._json(404, f"no competition in {body}")
        self._answer(302, headers={"Location": f"http://localhost/files/{self.server.competition}.zip"})

    def do_GET(self):
        path = urlsplit(self.path).path
        self.server.requests_seen.append(("GET", path, self.headers.get("Authorization")))
        if path != f"/files/{self.server.competition}.zip":
            return self._json(404, f"the stand-in of tests/platforms.py serves no {path}")
        archive = self.server.archive_zip()
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(archive.stat().st_size))
        self.send_header("Last-Modified", email.utils.formatdate(archive.stat().st_mtime, usegmt=True))
        self.end_headers()
        with open(archive, "rb") as source:
            shutil.copyfileobj(source, self.wfile, 1 << 20)


_STAND_INS: dict = {}


def kaggle_stand_in(archive, token: str = KAGGLE_TOKEN) -> KaggleStandIn:
    """The :class:`KaggleStandIn` of this process for ``archive`` and ``token`` (started once)."""
    key = (str(Path(archive).resolve()), token)
    if key not in _STAND_INS:
        _STAND_INS[key] = KaggleStandIn(archive, token)
    return _STAND_INS[key]


def colab_runtime(tmp, archive, repository: Path | None = None) -> dict:
    """The environment of a fresh Colab notebook whose learner saved a Kaggle token as a secret.

    A stand-in ``google.colab`` on ``PYTHONPATH`` (:func:`colab_package`: the secret
    ``KAGGLE_API_TOKEN``, ``drive.mount``), Google Drive at ``<tmp>/drive``
    (``DOGSCATS_DRIVE``), Kaggle's API answered by :func:`kaggle_stand_in`
    (``KAGGLE_API_ENVIRONMENT=LOCALHOST``, ``HTTP_PROXY``), ``DOGSCATS_CLONE_URL`` at
    the bare repository; no ``KAGGLEHUB_CACHE`` and none of the caller's ``DOGSCATS_*``.

    Parameters
    ----------
    tmp : pathlib.Path
        A temporary folder of this runtime.
    archive : pathlib.Path
        The real photos (the shared folder, or a Kaggle zip) the stand-in serves.
    repository : pathlib.Path, optional
        The bare repository to clone; default a new :func:`bare_repository` under ``tmp``.

    Returns
    -------
    dict of str to str
        The whole environment of the runtime's kernel.
    """
    tmp = Path(tmp)
    env = _fresh_environment(tmp, repository)
    stubs = colab_package(tmp / "colab-packages")
    server = kaggle_stand_in(archive)
    env.update(PYTHONPATH=os.pathsep.join([str(stubs), env["PYTHONPATH"]]),
               DOGSCATS_DRIVE=str(tmp / "drive"), KAGGLE_API_ENVIRONMENT="LOCALHOST",
               HTTP_PROXY=server.proxy, http_proxy=server.proxy, NO_PROXY="", no_proxy="")
    return env


# --------------------------------------------------------------------------- running a notebook alone
class NotebookFailed(AssertionError):
    """A notebook run alone stopped: the message holds the failing cell's source and traceback."""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _failure(notebook, relative: str, error: Exception) -> NotebookFailed:
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                traceback = _ANSI.sub("", "\n".join(output.get("traceback", [])))
                return NotebookFailed(f"{relative} stopped in cell {cell.get('id')}:\n{cell.source}\n"
                                      f"---\n{traceback}")
    return NotebookFailed(f"{relative} stopped: {type(error).__name__}: {_ANSI.sub('', str(error))}")


def run_notebook_alone(notebook_relative_path, runtime_env: dict, workdir, timeout: int = 1800):
    """Execute one notebook as a fresh runtime does: alone in an empty folder, in ``runtime_env``.

    Copies only ``ROOT / notebook_relative_path`` into ``workdir`` (created; it must
    be empty), and runs it with nbclient in a ``python3`` kernel of this Python
    (``course.run.execute``'s kernel: C-level logs go to the kernel's log, not into
    the notebook), with ``runtime_env`` plus ``DOGSCATS_PROFILE=smoke`` as its whole
    environment (and :func:`utils.settings.apply_headless`'s values: no TensorBoard
    server for a run nobody looks at) and ``workdir`` as its working folder.

    Parameters
    ----------
    notebook_relative_path : str or pathlib.Path
        E.g. ``"notebooks/00_setup.ipynb"`` (an absolute path works too).
    runtime_env : dict of str to str
        From :func:`kaggle_runtime` or :func:`colab_runtime`.
    workdir : pathlib.Path
        The runtime's working folder (Colab's ``/content``, Kaggle's ``/kaggle/working``).
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook (also saved as ``<workdir>/executed-<name>``).

    Raises
    ------
    NotebookFailed
        If a cell raised, timed out or the kernel died: the failing cell's source and traceback.
    FileExistsError
        If ``workdir`` is not empty.
    """
    import nbformat
    from nbclient import NotebookClient

    from course.run.execute import _current_env_kernel_manager_class

    source = ROOT / notebook_relative_path
    relative = source.relative_to(ROOT).as_posix() if source.is_relative_to(ROOT) else str(source)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise FileExistsError(f"{workdir} is not empty: a fresh runtime's folder holds the notebook alone")
    copy = workdir / source.name
    shutil.copyfile(source, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, kernel_manager_class=_current_env_kernel_manager_class(),
                            kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(workdir)}})
    log = open(workdir.parent / f"kernel-{source.stem}.log", "w", encoding="utf-8")
    try:
        # smoke, and the headless settings (no TensorBoard server): nobody looks at this run
        env = {**runtime_env, "DOGSCATS_PROFILE": "smoke"}
        settings.apply_headless(env)
        client.execute(env=env, stdout=log, stderr=log)
    except Exception as error:
        raise _failure(notebook, relative, error) from None
    finally:
        log.close()
        nbformat.write(notebook, workdir.parent / f"executed-{source.name}")
    return notebook


def cell_text(notebook, cell_id: str, stream: str = "stdout") -> str:
    """What the cell ``cell_id`` wrote to ``stream`` (``"stdout"`` or ``"stderr"``)."""
    cell = next((c for c in notebook.cells if c.get("id") == cell_id), None)
    if cell is None:
        raise KeyError(f"the notebook has no cell {cell_id!r}")
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == stream)


_PROGRESS_BAR = re.compile(r"^\s*(\S.*)?\d+%\|.*\|.*$")


def stderr_lines(notebook) -> list[str]:
    """Every line the notebook's cells wrote to stderr, progress bars (tqdm's) left out.

    A fresh runtime's learner should see none: no warning, no stray log line.
    """
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for line in re.split(r"[\r\n]+", output.get("text", "")):
                    if line.strip() and not _PROGRESS_BAR.match(line):
                        lines.append(f"{cell.get('id')}: {line}")
    return lines


def error_outputs(notebook) -> list[str]:
    """``"<cell id>: <ename>: <evalue>"`` of every error output of the executed notebook."""
    return [f"{cell.get('id')}: {o.get('ename')}: {o.get('evalue')}"
            for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def platform_cell_source(relative: str = "notebooks/00_setup.ipynb") -> str:
    """The platform cell :mod:`course.tools.notebook_header` gives ``relative`` now (from its template)."""
    from course.tools import notebook_header

    url = notebook_header.repository_url()
    return notebook_header.header_cells(url, relative)[1].source


def run_platform_cell(runtime_env: dict, workdir, code_after: str = "", timeout: int = 600):
    """Run the platform cell alone, as a script, in an empty ``workdir`` with ``runtime_env``.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text; ``code_after`` runs after the cell.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    code = platform_cell_source() + "\n" + code_after
    return subprocess.run([sys.executable, "-c", code], cwd=workdir, env={**runtime_env, "DOGSCATS_PROFILE": "smoke"},
                          capture_output=True, text=True, timeout=timeout)
