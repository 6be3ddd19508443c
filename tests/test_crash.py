"""``prepare`` or the course runner killed (SIGKILL) at any named step resumes cleanly, never half-written.

Each run happens in a child process (a fork) whose :func:`utils.files.checkpoint`
is replaced by :func:`tests.conftest.killer`, which kills it at a named step: during extraction, while
checking images, while writing the split, between the two renames that swap a
new split in, while writing a record/notebook/state file. The next run must
reuse the last complete result or rebuild it, never read a half-written file,
never delete the last good split, and end with the same manifest as an
uninterrupted run.
"""

from __future__ import annotations

import gc
import io
import hashlib
import json
import os
import shutil
import signal
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from utils import config, data, files

from .conftest import image_bytes, killer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"),
                                reason="needs fork and SIGKILL (POSIX)")

def in_child(target, kill_at=None, log=None, timeout: float = 600.0) -> int:
    """Run ``target()`` in a forked process, killed at ``kill_at``; return its exit code.

    A fork, not a fresh interpreter: the same real process boundary and the
    same real ``SIGKILL``, without paying for the imports again (seconds each
    on a loaded machine). Returns ``-signal.SIGKILL`` when the kill happened,
    else ``target()``'s integer result (0 for None), or 70 if it raised (the
    traceback goes to ``log``).

    Garbage is collected before the fork and the child runs without the cyclic
    garbage collector: otherwise the child could finalise a TensorFlow object
    left by an earlier test (a tf.data iterator), whose destructor takes a
    mutex copied mid-wait from the parent's threads and aborts the child
    (``Mutex::Fer with pending CondVar queueing``, SIGABRT, seen once in CI).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    gc.collect()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        gc.disable()
        code = 70
        try:
            out = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            sys.stdout = sys.stderr = open(out, "w", buffering=1, closefd=False)  # not pytest's
            _own_tqdm_lock()
            if kill_at:
                files.checkpoint = killer(kill_at)  # this child only: it never returns
            result = target()
            code = result if isinstance(result, int) else 0
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:                     # a child that hangs fails its test instead of holding up the run
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the forked child hung for {timeout:.0f} s (a lock held across the fork?)")
        time.sleep(0.05)


def _own_tqdm_lock() -> None:
    """Give this forked child tqdm locks of its own, not the parent's.

    tqdm guards its bars with a ``multiprocessing.RLock``, a semaphore shared with
    every process forked after the parent first made a bar. A child killed while one
    of its threads holds it (a progress update) leaves it held for good, and every
    later child, and the parent's tqdm monitor thread, then wait on it forever (seen
    in CI once the pytest process itself had drawn a bar). A lock of the child's own
    dies with the child.
    """
    std = sys.modules.get("tqdm.std")
    if std is None:
        return
    if "mp_lock" in vars(std.TqdmDefaultWriteLock):
        del std.TqdmDefaultWriteLock.mp_lock
    std.TqdmDefaultWriteLock.th_lock = std.TRLock()
    classes = [std.tqdm]
    while classes:                  # tqdm.notebook's bar, say, may hold a lock of its own
        cls = classes.pop()
        classes += cls.__subclasses__()
        if "_lock" in vars(cls):
            delattr(cls, "_lock")
    std.tqdm.set_lock(std.TqdmDefaultWriteLock())


def run_prepare(cfg, source, kill_at=None, log=None) -> int:
    return in_child(lambda: data.prepare(cfg, source=source, progress=False) and None,
                    kill_at, log)


def _cfg(root: Path):
    return config.get_profile("smoke", data_dir=root / "data", results_dir=root / "results",
                              archive=None)


def _kaggle_zip(path: Path, n: int, seed: int = 0) -> Path:
    """A Kaggle-like dogs-vs-cats.zip (train.zip + test1.zip inside) with a few bad files."""
    work = path.parent / f"parts-{path.stem}"
    work.mkdir(parents=True)
    with zipfile.ZipFile(work / "train.zip", "w") as handle:
        for i in range(n):
            handle.writestr(f"train/cat.{i}.jpg", image_bytes(seed=seed + i))
            handle.writestr(f"train/dog.{i}.jpg", image_bytes(seed=seed + 10_000 + i))
        handle.writestr("train/cat.900.jpg", image_bytes(size=(64, 64), seed=1)[:600])  # truncated
        handle.writestr("train/dog.901.jpg", image_bytes(fmt="PNG", mode="RGBA", seed=2))
    with zipfile.ZipFile(work / "test1.zip", "w") as handle:
        for i in range(1, 31):
            handle.writestr(f"test1/{i}.jpg", image_bytes(seed=50_000 + i))
    with zipfile.ZipFile(path, "w") as handle:
        handle.write(work / "train.zip", "train.zip")
        handle.write(work / "test1.zip", "test1.zip")
    return path


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "prepare.json"}


def _manifest_hash(cfg) -> str:
    return hashlib.sha256((cfg.dataset_dir / "manifest.csv").read_bytes()).hexdigest()


def _complete_splits(cfg) -> list:
    candidates = [cfg.dataset_dir, *cfg.data_dir.glob(".old-dogscats-*"),
                  *cfg.data_dir.glob(".tmp-dogscats-*")]
    return [c for c in candidates if (c / "prepare.json").is_file()]


@pytest.fixture(scope="module")
def sources_and_reference(tmp_path_factory):
    """Two sources (old: 40+40 images, new: 50+50) and the uninterrupted result for each."""
    root = tmp_path_factory.mktemp("crash")
    old = _kaggle_zip(root / "old" / "dogs-vs-cats.zip", 40)
    new = _kaggle_zip(root / "new" / "dogs-vs-cats.zip", 50)
    refs = {}
    for name, source in (("old", old), ("new", new)):
        cfg = _cfg(root / f"ref-{name}")
        started = time.perf_counter()
        log = root / f"{name}.log"
        assert run_prepare(cfg, source, log=log) == 0, log.read_text()
        refs[name] = (cfg, time.perf_counter() - started)
    return old, new, refs


@pytest.mark.slow
@pytest.mark.parametrize("step", ["extract@3", "check-image@40", "write-image@30", "atomic-write",
                                  "swap", "swap-done"])
def test_prepare_killed_while_replacing_a_split_never_loses_it(tmp_path, sources_and_reference, step):
    old, new, refs = sources_and_reference
    old_cfg, new_cfg = refs["old"][0], refs["new"][0]
    cfg = _cfg(tmp_path)
    shutil.copytree(old_cfg.data_dir, cfg.data_dir)  # the last good split, of the old source
    good = _digest(cfg.dataset_dir)

    log = tmp_path / "child.log"
    assert run_prepare(cfg, new, kill_at=step, log=log) == -signal.SIGKILL, log.read_text()

    complete = _complete_splits(cfg)
    assert any(_digest(c) == good for c in complete), "the last good split must survive"
    if step == "swap":  # killed between the renames: the old split is aside, the new one ready
        assert not cfg.dataset_dir.exists() and len(complete) == 2
    elif step == "swap-done":
        assert _digest(cfg.dataset_dir) == _digest(new_cfg.dataset_dir)
    else:
        assert _digest(cfg.dataset_dir) == good, "nothing may touch the split before the swap"

    assert run_prepare(cfg, new, log=log) == 0, log.read_text()
    assert _manifest_hash(cfg) == _manifest_hash(new_cfg)
    assert _digest(cfg.dataset_dir) == _digest(new_cfg.dataset_dir)
    assert not list(cfg.data_dir.glob(".tmp-*")) and not list(cfg.data_dir.glob(".old-*"))
    assert not list(cfg.dataset_dir.rglob("*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("step", ["extract@2", "check-image@7", "write-image@50", "atomic-write"])
def test_prepare_killed_on_a_first_run_leaves_nothing_half_built(tmp_path, sources_and_reference, step):
    _, new, refs = sources_and_reference
    cfg = _cfg(tmp_path)
    log = tmp_path / "child.log"
    assert run_prepare(cfg, new, kill_at=step, log=log) == -signal.SIGKILL, log.read_text()
    assert not data.is_prepared(cfg), "a half-built split must never appear"
    assert run_prepare(cfg, new, log=log) == 0, log.read_text()
    assert _manifest_hash(cfg) == _manifest_hash(refs["new"][0])
    assert not list(cfg.data_dir.glob(".tmp-*"))


def test_prepare_after_a_kill_between_renames_reuses_the_new_split(tmp_path, sources_and_reference):
    """The recovered split is complete, so the next run reuses it instead of rebuilding."""
    _, new, refs = sources_and_reference
    cfg = _cfg(tmp_path)
    shutil.copytree(refs["old"][0].data_dir, cfg.data_dir)
    assert run_prepare(cfg, new, kill_at="swap") == -signal.SIGKILL
    report = data.prepare(cfg, source=new, progress=False)
    assert report.reused
    assert _manifest_hash(cfg) == _manifest_hash(refs["new"][0])


# --------------------------------------------------------------------------- the runner
def fake_executor(pause: float = 0.0):
    """Stands for nbclient: writes what a training notebook writes (its record), then ok."""
    from course.run import runner

    def execute(path, *, cwd, timeout, progress, log_path=None):
        nb = nbformat.read(path, as_version=4)
        progress(1, 1)
        cfg = config.current()
        started = time.time()
        time.sleep(pause)
        files.atomic_write(cfg.profile_results_dir / f"{path.stem}.json",
                           json.dumps({"model_id": path.stem, "profile": cfg.name,
                                       "started": started, "ended": time.time()}))
        nb.cells[1].outputs = [nbformat.v4.new_output("stream", text=path.stem + " ran")]
        return runner.Outcome(nb, runner.OK)

    return execute


def course_main(project: Path, profile: str, pause: float = 0.0):
    """What ``make course`` runs, on the tiny notebooks of ``project``, as a child's target."""
    from course.run import runner

    def main():
        os.environ.update({"DOGSCATS_PROFILE": profile, "DOGSCATS_DATA": str(project / "data"),
                           "DOGSCATS_RESULTS": str(project / "results")})
        return runner.main([], executor=fake_executor(pause), check_data=lambda cfg: None,
                           html_exporter=lambda nb: "<html>" + nb.cells[1].source + "</html>",
                           notebooks_dir=project / "notebooks")

    return main


NAMES = ("00_setup", "01_data_preparation", "02_mlp", "03_cnn")


def _write_notebooks(root: Path) -> None:
    notebooks = root / "notebooks"
    notebooks.mkdir()
    for name in NAMES:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# t", id="title"),
                    nbformat.v4.new_code_cell(f"print('{name}')", id="code")]
        nbformat.write(nb, notebooks / f"{name}.ipynb")


@pytest.fixture
def project(tmp_path):
    _write_notebooks(tmp_path)
    return tmp_path


def run_course(project: Path, profile="smoke", kill_at=None, pause=0.0) -> tuple:
    log = project / f"course-{profile}.log"
    return in_child(course_main(project, profile, pause), kill_at, log), log


def _readable(folder: Path) -> None:
    """Every file the run left is whole: JSON and notebooks parse, HTML ends."""
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".html":
            assert path.read_text(encoding="utf-8").rstrip().endswith("</html>"), path


def _outputs(results: Path) -> dict:
    """Records (without times), executed notebooks and their HTML: what a run produced."""
    found = {}
    for path in sorted(results.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.name in ("state.json", "index.html"):
            continue
        if path.parent.name == "logs":
            continue
        content = json.loads(path.read_text()) if path.suffix == ".json" else path.read_text()
        if isinstance(content, dict):
            content = {k: v for k, v in content.items() if k not in ("started", "ended")}
        found[str(path.relative_to(results))] = content
    return found


@pytest.fixture(scope="module")
def reference_course(tmp_path_factory):
    """An uninterrupted run of the tiny course: what every resumed run must end with."""
    root = tmp_path_factory.mktemp("reference")
    _write_notebooks(root)
    status, log = run_course(root)
    assert status == 0, log.read_text()
    return root


@pytest.mark.slow
@pytest.mark.parametrize("nth", [1, 2, 3, 4, 5, 7, 12, 17, 18])
def test_course_killed_while_writing_resumes_and_ends_as_an_uninterrupted_run(project, reference_course,
                                                                              nth):
    # writes: 1 the lock's owner; per notebook a record, its .ipynb, its .html, the state; 18 index.html
    status, log = run_course(project, kill_at=f"atomic-write@{nth}")
    assert status == -signal.SIGKILL, log.read_text()
    _readable(project / "results")  # a reader never meets a half-written file
    status, log = run_course(project)
    assert status == 0, log.read_text()
    _readable(project / "results")
    assert _outputs(project / "results") == _outputs(reference_course / "results")
    state = json.loads((project / "results" / "smoke" / "notebooks" / "state.json").read_text())
    assert {n: s["status"] for n, s in state["notebooks"].items()} == {n: "ok" for n in NAMES}
    assert not [p for p in (project / "results").rglob(".*.tmp")], "stale temporaries are removed"


@pytest.mark.slow
def test_two_profiles_run_side_by_side_and_a_second_run_of_one_is_refused(project):
    import threading

    outcome = {}

    def start(key, profile, pause):
        outcome[key] = run_course(project, profile, pause=pause)

    first = threading.Thread(target=start, args=("smoke", "smoke", 1.0))
    second = threading.Thread(target=start, args=("sample", "sample", 1.0))
    first.start()
    second.start()
    owner = project / "results" / "smoke" / "notebooks" / ".lock.owner"
    deadline = time.monotonic() + 60
    while not owner.is_file() and time.monotonic() < deadline:  # the first run holds its lock
        time.sleep(0.02)
    status3 = in_child(course_main(project, "smoke"), log=project / "third.log")
    first.join()
    second.join()
    assert outcome["smoke"][0] == 0 and outcome["sample"][0] == 0
    assert status3 == 2
    assert "another run of the course is using" in (project / "third.log").read_text()
    records = {profile: [json.loads((project / "results" / profile / f"{n}.json").read_text())
                         for n in NAMES] for profile in ("smoke", "sample")}
    spans = {p: (min(r["started"] for r in rs), max(r["ended"] for r in rs)) for p, rs in records.items()}
    assert spans["smoke"][0] < spans["sample"][1] and spans["sample"][0] < spans["smoke"][1], \
        "the two profiles ran at the same time"
    for profile, rows in records.items():
        assert all(r["profile"] == profile for r in rows), "each wrote only its own folder"
        state = json.loads((project / "results" / profile / "notebooks" / "state.json").read_text())
        assert state["profile"] == profile and len(state["notebooks"]) == len(NAMES)


@pytest.mark.slow
@pytest.mark.extended
@pytest.mark.real_data
def test_real_images_killed_while_checking_then_rerun_give_the_same_manifest(tmp_path, prepared_smoke,
                                                                             real_archive):
    """The shared photos: a kill 2,000 images into checking, then a full run, as uninterrupted."""
    cfg = _cfg(tmp_path)
    log = tmp_path / "child.log"
    assert run_prepare(cfg, real_archive, kill_at="check-image@2000", log=log) == -signal.SIGKILL, \
        log.read_text()
    assert not data.is_prepared(cfg)
    assert run_prepare(cfg, real_archive, log=log) == 0, log.read_text()
    assert _manifest_hash(cfg) == _manifest_hash(prepared_smoke)
    assert not list(cfg.data_dir.glob(".tmp-*"))


def test_a_child_killed_holding_the_progress_bar_lock_leaves_later_bars_free():
    import tqdm.std as std

    with std.tqdm(total=1, file=io.StringIO()) as bar:      # the parent's tqdm locks exist from here on
        bar.update()

    def hold_and_die():
        std.tqdm.get_lock().acquire()
        os.kill(os.getpid(), signal.SIGKILL)

    assert in_child(hold_and_die) == -signal.SIGKILL
    parent = std.TqdmDefaultWriteLock.mp_lock
    free = parent.acquire(timeout=5)
    if free:
        parent.release()
    else:                           # keep the rest of the session usable, then fail
        _own_tqdm_lock()
    assert free, "a killed child left the parent's tqdm lock held: later progress bars would wait forever"
    assert in_child(lambda: len(list(std.tqdm(range(3), file=io.StringIO()))) - 3, timeout=60) == 0
