"""make course reports each notebook's status, re-runs only what changed (saying why) and writes atomically."""

from __future__ import annotations

import io
import json
import os

import nbformat
import pytest

from course.run import runner
from utils import config, errors


def _notebook(text="print(1)"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell(text)]
    return nb


@pytest.fixture
def course(tmp_path):
    """A tiny project: notebooks 00-04, a utils/ folder, a smoke cfg in tmp_path."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "utils").mkdir()
    (root / "utils" / "helpers.py").write_text("X = 1\n")
    for name in ("00_setup", "01_data_preparation", "02_mlp", "03_cnn", "04_augmentation"):
        nbformat.write(_notebook(name), root / "notebooks" / f"{name}.ipynb")
    (root / "notebooks" / "notes.ipynb").write_text("{}")  # not numbered: ignored
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "results")
    return root, cfg


class FakeExecutor:
    """Records which notebooks ran; ``plan`` maps a notebook stem to an Outcome maker."""

    def __init__(self, plan=None, on_run=None):
        self.plan = plan or {}
        self.calls = []
        self.on_run = on_run

    def __call__(self, path, *, cwd, timeout, progress, log_path=None):
        self.calls.append(path.stem)
        nb = nbformat.read(path, as_version=4)
        progress(1, 1)
        if self.on_run:
            self.on_run(path.stem)
        make = self.plan.get(path.stem)
        if make is None:
            return runner.Outcome(nb, runner.OK)
        return make(nb)


def fake_html(nb):
    return "<html>" + nb.cells[1].source + "</html>"


def run(course, executor, **kwargs):
    root, cfg = course
    return runner.run_course(cfg, notebooks_dir=root / "notebooks", project_root=root,
                             executor=executor, html_exporter=fake_html,
                             progress=runner.Progress(io.StringIO()), **kwargs)


def statuses(results):
    return {r.name: r.status for r in results}


def test_all_ok_writes_copies_html_index_and_state(course):
    root, cfg = course
    executor = FakeExecutor()
    results = run(course, executor)
    assert executor.calls == ["00_setup", "01_data_preparation", "02_mlp", "03_cnn", "04_augmentation"]
    assert set(statuses(results).values()) == {runner.OK}
    out = cfg.profile_results_dir / "notebooks"
    for name in executor.calls:
        assert nbformat.read(out / f"{name}.ipynb", as_version=4).cells[1].source == name
        assert (out / f"{name}.html").read_text() == f"<html>{name}</html>"
    index = (out / "index.html").read_text()
    assert 'href="03_cnn.html"' in index and "anchors" in index
    assert runner.exit_status(results) == 0
    assert not list(out.glob(".*.tmp")), "no temporary file is left behind"


def test_skip_is_reported_with_reason_and_the_run_goes_on(course):
    def skip(nb):
        return runner.outcome_of_error("LessonSkipped",
                                       errors.SKIP_MARKER + "needs ImageNet weights: put them in ~/.keras",
                                       2, nb)

    results = run(course, FakeExecutor({"03_cnn": skip}))
    by_name = {r.name: r for r in results}
    assert by_name["03_cnn"].status == runner.SKIPPED
    assert by_name["03_cnn"].reason == "needs ImageNet weights: put them in ~/.keras"
    assert by_name["04_augmentation"].status == runner.OK
    assert runner.exit_status(results) == 0, "a skip is not a failure"


def test_failure_after_the_prerequisites_does_not_stop_the_run(course):
    def fail(nb):
        return runner.outcome_of_error("ValueError", "bad shape\nmore lines", 2, nb)

    results = run(course, FakeExecutor({"02_mlp": fail}))
    by_name = {r.name: r for r in results}
    assert by_name["02_mlp"].status == runner.FAILED
    assert by_name["02_mlp"].cell == 2
    assert by_name["02_mlp"].note() == "cell 2: ValueError: bad shape"
    assert by_name["03_cnn"].status == runner.OK
    assert runner.exit_status(results) == 1
    summary = runner.format_summary(results, course[1].profile_results_dir / "notebooks", 3.0)
    assert "02_mlp" in summary and "failed" in summary and "index.html" in summary


def test_failed_prerequisite_stops_the_rest(course):
    def fail(nb):
        return runner.outcome_of_error("DataNotFoundError", "no images", 3, nb)

    executor = FakeExecutor({"01_data_preparation": fail})
    results = run(course, executor)
    assert executor.calls == ["00_setup", "01_data_preparation"]
    assert statuses(results)["02_mlp"] == runner.NOT_RUN
    assert "01_data_preparation failed" in {r.name: r for r in results}["04_augmentation"].note()
    assert runner.exit_status(results) == 1


def test_an_executor_crash_is_a_failure_not_a_crash(course):
    executor = FakeExecutor({"03_cnn": lambda nb: (_ for _ in ()).throw(RuntimeError("no kernel"))})
    results = run(course, executor)
    assert statuses(results)["03_cnn"] == runner.FAILED
    assert "no kernel" in {r.name: r for r in results}["03_cnn"].error
    assert statuses(results)["04_augmentation"] == runner.OK


def test_outcome_of_error_classifies_the_skip_marker():
    skipped = runner.outcome_of_error("LessonSkipped", errors.SKIP_MARKER + "why", 4)
    assert (skipped.status, skipped.reason, skipped.cell) == (runner.SKIPPED, "why", 4)
    assert str(errors.LessonSkipped("why")).startswith(errors.SKIP_MARKER)
    failed = runner.outcome_of_error("RuntimeError", "lesson went wrong", 1)
    assert failed.status == runner.FAILED and failed.error == "RuntimeError: lesson went wrong"


def test_second_run_executes_nothing(course):
    run(course, FakeExecutor())
    again = FakeExecutor()
    results = run(course, again)
    assert again.calls == []
    assert all(r.cached and r.status == runner.OK for r in results)


def test_skips_are_remembered_too_but_failures_retried(course):
    plan = {"02_mlp": lambda nb: runner.outcome_of_error("E", "broken", 1, nb),
            "03_cnn": lambda nb: runner.outcome_of_error("LessonSkipped", errors.SKIP_MARKER + "x", 1, nb)}
    run(course, FakeExecutor(plan))
    again = FakeExecutor(plan)
    results = run(course, again)
    assert again.calls == ["02_mlp"], "only the failed notebook runs again"
    assert statuses(results)["03_cnn"] == runner.SKIPPED


def test_a_changed_notebook_reruns_itself_and_the_later_ones_saying_why(course):
    root, cfg = course
    run(course, FakeExecutor())
    nbformat.write(_notebook("changed"), root / "notebooks" / "03_cnn.ipynb")
    again = FakeExecutor()
    stream = io.StringIO()
    runner.run_course(cfg, notebooks_dir=root / "notebooks", project_root=root, executor=again,
                      html_exporter=fake_html, progress=runner.Progress(stream))
    assert again.calls == ["03_cnn", "04_augmentation"]
    text = stream.getvalue()
    assert "03_cnn (changed: the notebook)" in text
    assert "04_augmentation (changed: an earlier notebook)" in text


def test_a_skip_is_retried_when_keras_weights_appear(course, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    plan = {"03_cnn": lambda nb: runner.outcome_of_error("LessonSkipped", errors.SKIP_MARKER + "no weights", 1, nb)}
    run(course, FakeExecutor(plan))
    unchanged = FakeExecutor(plan)
    run(course, unchanged)
    assert unchanged.calls == []
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"w")
    retried = FakeExecutor()
    results = run(course, retried)
    assert retried.calls == ["03_cnn"], "only the skipped notebook is tried again; ok ones stay"
    assert statuses(results)["03_cnn"] == runner.OK


def test_a_skip_is_retried_when_the_weights_file_is_named(course, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("DOGSCATS_VGG16_WEIGHTS", raising=False)
    plan = {"03_cnn": lambda nb: runner.outcome_of_error("LessonSkipped", errors.SKIP_MARKER + "no weights", 1, nb)}
    run(course, FakeExecutor(plan))
    weights = tmp_path / "vgg16_notop.h5"
    weights.write_bytes(b"weights")
    monkeypatch.setenv("DOGSCATS_VGG16_WEIGHTS", str(weights))
    retried = FakeExecutor()
    run(course, retried)
    assert retried.calls == ["03_cnn"]


def test_changed_utils_code_reruns_everything(course):
    root, _ = course
    run(course, FakeExecutor())
    (root / "course").mkdir(exist_ok=True)
    (root / "course" / "runner.py").write_text("# the runner lives outside utils\n")
    unchanged = FakeExecutor()
    run(course, unchanged)
    assert unchanged.calls == [], "editing the runner (outside utils) re-runs no notebook"
    (root / "utils" / "helpers.py").write_text("X = 2\n")
    again = FakeExecutor()
    run(course, again)
    assert len(again.calls) == 5


def test_another_backbone_reruns_everything_and_says_why(course, monkeypatch):
    run(course, FakeExecutor())
    monkeypatch.setenv("DOGSCATS_BACKBONE", "efficientnet_lite0")
    again, shown = FakeExecutor(), io.StringIO()
    root, cfg = course
    runner.run_course(cfg, notebooks_dir=root / "notebooks", project_root=root, executor=again,
                      html_exporter=fake_html, progress=runner.Progress(shown))
    assert len(again.calls) == 5
    assert "DOGSCATS_BACKBONE" in shown.getvalue()
    unchanged = FakeExecutor()
    run(course, unchanged)
    assert unchanged.calls == []


def test_changed_manifest_reruns_everything_but_01s_own_does_not(course):
    root, cfg = course
    manifest = cfg.dataset_dir / "manifest.csv"

    def prepare(name):  # notebook 01 writes the manifest, as data.prepare does
        if name == "01_data_preparation":
            manifest.parent.mkdir(parents=True, exist_ok=True)
            manifest.write_text("file,class,split,sha256\n")

    run(course, FakeExecutor(on_run=prepare))
    again = FakeExecutor(on_run=prepare)
    run(course, again)
    assert again.calls == [], "the manifest written by 01 does not make 01 run again"
    manifest.write_text("file,class,split,sha256\na.jpg,cats,train,00\n")
    third = FakeExecutor()
    run(course, third)
    assert third.calls == ["01_data_preparation", "02_mlp", "03_cnn", "04_augmentation"], \
        "a different data set re-runs every notebook that uses the data"
    manifest.unlink()
    fourth = FakeExecutor(on_run=prepare)
    run(course, fourth)
    assert fourth.calls[0] == "01_data_preparation", "deleted data is prepared again"


def test_force_executes_everything(course):
    run(course, FakeExecutor())
    again = FakeExecutor()
    run(course, again, force=True)
    assert len(again.calls) == 5


def test_a_deleted_output_is_rebuilt(course):
    _, cfg = course
    run(course, FakeExecutor())
    (cfg.profile_results_dir / "notebooks" / "02_mlp.ipynb").unlink()
    again = FakeExecutor()
    run(course, again)
    assert again.calls == ["02_mlp"]


def test_profiles_keep_separate_state(course):
    root, smoke = course
    run(course, FakeExecutor())
    sample = config.get_profile("sample", data_dir=smoke.data_dir, results_dir=smoke.results_dir)
    executor = FakeExecutor()
    runner.run_course(sample, notebooks_dir=root / "notebooks", project_root=root, executor=executor,
                      html_exporter=fake_html, progress=runner.Progress(io.StringIO()))
    assert len(executor.calls) == 5, "nothing of smoke's run counts for sample"
    assert (sample.profile_results_dir / "notebooks" / "02_mlp.ipynb").is_file()
    state = json.loads((smoke.profile_results_dir / "notebooks" / runner.STATE_FILE).read_text())
    assert state["profile"] == "smoke"
    # a state file of another profile copied over is ignored
    assert runner.load_state(smoke.profile_results_dir / "notebooks" / runner.STATE_FILE, "sample") == {}


def test_only_runs_the_selected_notebooks_and_keeps_the_chain(course):
    run(course, FakeExecutor())
    again = FakeExecutor()
    results = run(course, again, only=["3"])
    assert again.calls == [] and [r.name for r in results] == ["03_cnn"]
    forced = FakeExecutor()
    run(course, forced, only=["03", "04"], force=True)
    assert forced.calls == ["03_cnn", "04_augmentation"]
    with pytest.raises(ValueError, match="no notebook numbered 09"):
        run(course, FakeExecutor(), only=["09"])


def test_interrupted_run_leaves_no_half_written_output_and_resumes(course):
    _, cfg = course

    def interrupt(name):
        if name == "03_cnn":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(course, FakeExecutor(on_run=interrupt))
    out = cfg.profile_results_dir / "notebooks"
    assert (out / "02_mlp.ipynb").is_file()
    assert not (out / "03_cnn.ipynb").exists() and not (out / "03_cnn.html").exists()
    assert not list(out.glob(".*.tmp"))
    resumed = FakeExecutor()
    run(course, resumed)
    assert resumed.calls == ["03_cnn", "04_augmentation"]


def test_ctrl_c_seen_as_an_error_still_stops_the_run(course):
    def ctrl_c_then_error(nb):
        runner.INTERRUPTED.set()  # what main's handler does on Ctrl-C
        raise RuntimeError("kernel shut down")

    try:
        with pytest.raises(KeyboardInterrupt):
            run(course, FakeExecutor({"02_mlp": ctrl_c_then_error}))
    finally:
        runner.INTERRUPTED.clear()
    state = runner.load_state(course[1].profile_results_dir / "notebooks" / runner.STATE_FILE, "smoke")
    assert sorted(state) == ["00_setup", "01_data_preparation"]


def test_summary_keeps_a_long_skip_reason_readable(tmp_path):
    results = [runner.NotebookResult("05_vgg16_imagenet", runner.SKIPPED, 3.0,
                                     reason="needs ImageNet weights:\nput the file in ~/.keras/models")]
    text = runner.format_summary(results, tmp_path, 3.0)
    lines = text.splitlines()
    second = next(line for line in lines if "put the file" in line)
    assert second.startswith(" " * 20), "continuation lines are indented under the note"
    assert "1 skipped" in text


def test_a_second_run_of_the_same_profile_is_refused_while_one_is_on(course):
    _, cfg = course
    inner = {}

    def nested(name):
        if name == "02_mlp":
            with pytest.raises(runner.RunInProgressError, match="another run"):
                run(course, FakeExecutor())
            sample = config.get_profile("sample", data_dir=cfg.data_dir, results_dir=cfg.results_dir)
            inner["sample"] = runner.run_course(
                sample, notebooks_dir=course[0] / "notebooks", project_root=course[0],
                executor=FakeExecutor(), html_exporter=fake_html, progress=runner.Progress(io.StringIO()),
                only=["00"])

    results = run(course, FakeExecutor(on_run=nested))
    assert len(results) == 5 and inner["sample"][0].status == runner.OK, "another profile may run"
    again = FakeExecutor()
    run(course, again, force=True)
    assert len(again.calls) == 5, "the lock is released after the run"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.html"
    runner.atomic_write(target, "old")

    class Boom(str):
        def encode(self, *args):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.atomic_write(target, Boom("new"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.html"]


class DataNotFoundError(RuntimeError):
    """Stands for utils.data.DataNotFoundError."""


def test_main_stops_at_once_without_data(course, monkeypatch, capsys):
    root, cfg = course
    monkeypatch.setenv("DOGSCATS_RESULTS", str(cfg.results_dir))
    monkeypatch.setenv("DOGSCATS_PROFILE", "smoke")
    monkeypatch.delenv("PYTHONPATH", raising=False)

    def no_data(cfg):
        raise DataNotFoundError("Put dogs-vs-cats.zip in data/ or set DOGSCATS_ARCHIVE")

    executor = FakeExecutor()
    status = runner.main(["--profile", "smoke"], executor=executor, check_data=no_data,
                         html_exporter=fake_html, stream=io.StringIO(),
                         notebooks_dir=root / "notebooks")
    assert status == 2
    assert executor.calls == []
    assert "DOGSCATS_ARCHIVE" in capsys.readouterr().err
    assert not (cfg.results_dir / "smoke" / "notebooks").exists()


def test_main_runs_reports_and_honours_force(course, monkeypatch):
    root, cfg = course
    monkeypatch.setenv("DOGSCATS_RESULTS", str(cfg.results_dir))
    monkeypatch.setenv("DOGSCATS_DATA", str(cfg.data_dir))
    monkeypatch.setenv("DOGSCATS_PROFILE", "sample")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("FORCE", raising=False)
    kwargs = dict(check_data=lambda cfg: None, html_exporter=fake_html,
                  notebooks_dir=root / "notebooks")
    out = io.StringIO()
    assert runner.main(["--profile", "smoke"], executor=FakeExecutor(), stream=out, **kwargs) == 0
    text = out.getvalue()
    assert "00_setup" in text and "Index page" in text and str(cfg.results_dir / "smoke") in text
    assert os.environ["DOGSCATS_PROFILE"] == "smoke", "the kernels inherit the profile"
    assert str(config.PROJECT_ROOT) in os.environ["PYTHONPATH"]
    again = FakeExecutor()
    runner.main([], executor=again, stream=io.StringIO(), **kwargs)
    assert again.calls == []
    monkeypatch.setenv("FORCE", "1")
    forced = FakeExecutor()
    runner.main([], executor=forced, stream=io.StringIO(), **kwargs)
    assert len(forced.calls) == 5
    failing = FakeExecutor({"04_augmentation": lambda nb: runner.Outcome(nb, runner.FAILED, 1, "E: x")})
    assert runner.main([], executor=failing, stream=io.StringIO(), **kwargs) == 1


@pytest.mark.slow
def test_real_kernels_ok_skip_and_failure(tmp_path, monkeypatch):
    """nbclient with a real python3 kernel of this environment: one cell each way."""
    monkeypatch.setenv("PYTHONPATH", str(config.PROJECT_ROOT))
    cells = {
        "ok": "import os\nprint(os.getcwd())",
        "skip": "from utils import errors\nraise errors.LessonSkipped('needs ImageNet weights')",
        "fail": "x = 1\nraise ValueError('broken on purpose')",
    }
    outcomes = {}
    for name, code in cells.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("a = 1"),
                    nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("print('after')")]
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        seen = []
        outcomes[name] = runner.nbclient_executor(path, cwd=tmp_path, timeout=120,
                                                  progress=lambda i, n: seen.append((i, n)),
                                                  log_path=tmp_path / "logs" / f"{name}.log")
        assert seen[0] == (1, 3)
    assert outcomes["ok"].status == runner.OK
    assert str(tmp_path) in outcomes["ok"].notebook.cells[2].outputs[0]["text"]
    assert (outcomes["skip"].status, outcomes["skip"].reason, outcomes["skip"].cell) == (
        runner.SKIPPED, "needs ImageNet weights", 3)
    assert outcomes["fail"].status == runner.FAILED and outcomes["fail"].cell == 3
    assert outcomes["fail"].error == "ValueError: broken on purpose"
    assert outcomes["fail"].notebook.cells[3].get("outputs", []) == []
    assert (tmp_path / "logs" / "ok.log").is_file(), "the kernel's own messages go to a log"
    html = runner.export_html(outcomes["fail"].notebook)
    assert "broken on purpose" in html


# --------------------------------------------------------------------------- resume key
def test_an_upgrade_or_another_backend_reruns_everything_saying_which(course, monkeypatch):
    from course.run import state as runstate

    root, cfg = course
    monkeypatch.setattr(runstate.config, "versions",
                        lambda: {"tensorflow": "2.20.0", "keras": "3.11.0"})
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    run(course, FakeExecutor())
    monkeypatch.setattr(runstate.config, "versions",
                        lambda: {"tensorflow": "2.20.0", "keras": "3.12.0"})
    upgraded, stream = FakeExecutor(), io.StringIO()
    runner.run_course(cfg, notebooks_dir=root / "notebooks", project_root=root, executor=upgraded,
                      html_exporter=fake_html, progress=runner.Progress(stream))
    assert len(upgraded.calls) == 5
    assert "00_setup (changed: keras 3.11.0 → 3.12.0)" in stream.getvalue()
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    other, stream = FakeExecutor(), io.StringIO()
    runner.run_course(cfg, notebooks_dir=root / "notebooks", project_root=root, executor=other,
                      html_exporter=fake_html, progress=runner.Progress(stream))
    assert len(other.calls) == 5 and "backend tensorflow → jax" in stream.getvalue()
    same = FakeExecutor()
    run(course, same)
    assert same.calls == []


def test_keras_backend_name_follows_keras_rules(tmp_path):
    from course.run import state as runstate

    assert runstate.keras_backend_name({"KERAS_BACKEND": "torch"}) == "torch"
    home = tmp_path / "kh"
    assert runstate.keras_backend_name({"KERAS_HOME": str(home)}) == "tensorflow"
    home.mkdir()
    (home / "keras.json").write_text('{"backend": "jax", "floatx": "float32"}')
    assert runstate.keras_backend_name({"KERAS_HOME": str(home)}) == "jax"
    (home / "keras.json").write_text("not json")
    assert runstate.keras_backend_name({"KERAS_HOME": str(home)}) == "tensorflow"


def test_the_resume_key_holds_versions_and_the_manifest(course):
    root, cfg = course
    notebook = root / "notebooks" / "02_mlp.ipynb"
    prints = runner.fingerprint(notebook, cfg, "", root)
    assert prints["versions"].startswith("python ") and ", backend " in prints["versions"]
    assert prints["manifest"] == "none"
    cfg.dataset_dir.mkdir(parents=True)
    (cfg.dataset_dir / "manifest.csv").write_text("file\n")
    assert runner.fingerprint(notebook, cfg, "", root)["manifest"] != "none"


# --------------------------------------------------------------------------- progress
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_moves_during_a_long_cell_on_a_terminal():
    import time

    stream = _Terminal()
    progress = runner.Progress(stream, interval=0.05)
    progress.start("[3/8] 03_cnn (first run)")
    progress.label = "[3/8] 03_cnn"
    progress.cell(20, 26)
    progress.cell(20, 26, detail="epoch 3/30")
    time.sleep(0.4)
    progress.done("[3/8] 03_cnn: ok in 1 s")
    redraws = stream.getvalue().split("\r\033[K")
    moving = [r for r in redraws if r.startswith("[3/8] 03_cnn: cell 20/26") and "epoch 3/30" in r]
    assert len(moving) >= 4, "redrawn every interval while the cell runs"
    assert stream.getvalue().endswith("[3/8] 03_cnn: ok in 1 s\n")
    time.sleep(0.15)
    assert stream.getvalue().endswith("ok in 1 s\n"), "no update after the notebook ended"


def test_progress_status_shows_elapsed_time_and_epoch():
    progress = runner.Progress(io.StringIO(), interval=60)
    progress.label, progress.where, progress.detail = "[3/8] 03_cnn", "cell 20/26", "epoch 3/30"
    progress.started, progress.cell_started = 0.0, 17.0
    assert progress.status(now=617.0) == ("[3/8] 03_cnn: cell 20/26 · 10 min 17 s "
                                          "(this cell 10 min 00 s) · epoch 3/30")


def test_progress_in_a_log_is_sparse():
    import time

    stream = io.StringIO()
    progress = runner.Progress(stream, interval=0.1)
    progress.start("[1/1] 03_cnn")
    progress.cell(1, 2)
    for epoch in range(1, 30):
        progress.cell(1, 2, detail=f"epoch {epoch}/30")  # no line of its own in a log
    time.sleep(0.35)
    progress.done("done")
    lines = stream.getvalue().splitlines()
    still = [line for line in lines if "still running" in line]
    assert 2 <= len(still) <= 4 and "epoch 29/30" in still[-1]
    assert len(lines) <= 8


def test_epoch_of_reads_keras_lines():
    assert runner.epoch_of("Epoch 1/30\n63/63 - 4s - loss: 0.69\nEpoch 2/30\n") == "epoch 2/30"
    assert runner.epoch_of("loss: 0.5") is None
    # utils.training's one line per run, redrawn with carriage returns
    line = "\rcnn_aug_light: epoch 37/100 [01:10<02:00], loss 0.5\rcnn_aug_light: epoch 38/100 [01:12<01:58], loss 0.5"
    assert runner.epoch_of(line) == "cnn_aug_light epoch 38/100"


# --------------------------------------------------------------------------- clean output
def test_a_skip_shows_its_message_alone_in_the_notebook():
    nb = _notebook("x")
    nb.cells[1].outputs = [nbformat.v4.new_output(
        "error", ename="WeightsUnavailableError", evalue=errors.SKIP_MARKER + "needs weights",
        traceback=["Traceback ...", "ConnectionRefusedError: [Errno 111]",
                   "During handling of the above exception, another exception occurred:"])]
    assert runner.clean_skip_outputs(nb) == 1
    assert nb.cells[1].outputs[0]["traceback"] == [
        "WeightsUnavailableError: " + errors.SKIP_MARKER + "needs weights"]


def test_lesson_skipped_hides_the_errors_behind_it():
    import traceback

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as error:
            raise errors.LessonSkipped("needs ImageNet weights") from error
    except errors.LessonSkipped as skip:
        caught = skip
    assert caught._render_traceback_() == ["LessonSkipped: " + errors.SKIP_MARKER
                                           + "needs ImageNet weights"]
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            raise errors.LessonSkipped("offline")
    except errors.LessonSkipped as skip:
        text = "".join(traceback.format_exception(skip))
    assert "ConnectionRefusedError" not in text and "During handling" not in text


def test_quiet_kernel_environment_keeps_what_the_user_set():
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    added = runner.quiet_kernel_environment(env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0" and "TF_CPP_MIN_LOG_LEVEL" not in added
    assert env["GRPC_VERBOSITY"] == "ERROR"
    assert env["DOGSCATS_TENSORBOARD"] == "0", "make course's kernels start no TensorBoard server"
    mine = {"DOGSCATS_TENSORBOARD": "1"}
    assert "DOGSCATS_TENSORBOARD" not in runner.quiet_kernel_environment(mine) and mine["DOGSCATS_TENSORBOARD"] == "1"


@pytest.mark.slow
def test_executed_html_is_clean_tensorflow_quiet_and_a_skip_alone(tmp_path, monkeypatch):
    """A real kernel: TensorFlow imported, Keras epochs printed, a skip raised from socket errors."""
    monkeypatch.setenv("PYTHONPATH", str(config.PROJECT_ROOT))
    # ipykernel never forwards C-level output under pytest; make the kernel behave as in make course
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    for name in runner.QUIET_KERNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    runner.quiet_kernel_environment()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("import tensorflow as tf\nimport keras\n"
                                  "print(tf.constant([1.0, 2.0]).numpy().sum())"),
        nbformat.v4.new_code_cell("import time\nfor e in (1, 2):\n"
                                  "    print(f'Epoch {e}/2', flush=True)\n    time.sleep(0.5)"),
        nbformat.v4.new_code_cell(
            "import socket\nfrom utils import errors\ntry:\n"
            "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
            "except OSError as error:\n"
            "    raise errors.LessonSkipped('needs the ImageNet weights: put them in ~/.keras/models') "
            "from error"),
    ]
    path = tmp_path / "05_vgg16.ipynb"
    nbformat.write(nb, path)
    seen = []
    outcome = runner.nbclient_executor(
        path, cwd=tmp_path, timeout=300, log_path=tmp_path / "logs" / "05.log",
        progress=lambda i, n, detail=None: seen.append((i, n, detail)))
    assert outcome.status == runner.SKIPPED and outcome.cell == 4
    assert (2, 3, "epoch 2/2") in seen, "the epoch printed by a running cell reaches the progress line"
    page = runner.export_html(outcome.notebook)
    assert "needs the ImageNet weights" in page and "3.0" in page
    for noise in ("oneDNN", "absl", "Traceback", "ConnectionRefusedError", "During handling",
                  "cuda", "I0000", "E0000"):
        assert noise not in page, noise


def test_index_page_escapes_notes_and_links_what_exists(tmp_path):
    """The jinja2 page: one row per notebook, links only to files that exist, errors escaped."""
    from course.run import report as runreport

    cfg = config.get_profile("smoke", results_dir=tmp_path / "results", data_dir=tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    rows = [runner.NotebookResult("01_data", runner.OK, 12.4, html=out / "01_data.html",
                                  ipynb=out / "01_data.ipynb"),
            runner.NotebookResult("02_mlp", runner.FAILED, 3.0, cell=4,
                                  error="ValueError: <script>alert(1)</script> & more")]
    page = runreport.write_index_page(cfg, rows, out).read_text(encoding="utf-8")
    assert '<a href="01_data.html">01_data</a>' in page and '<a href="01_data.ipynb">notebook</a>' in page
    assert "<td>12</td>" in page and '<tr class="not-run">' not in page
    assert '<tr class="failed">' in page and "cell 4: ValueError: &lt;script&gt;" in page
    assert "<script>" not in page and "&amp; more" in page
    assert 'href="02_mlp' not in page, "no link to an output that was not written"
    assert "<table" in page.split("Published figures")[1], "the anchors table is rendered, not escaped"


def test_the_resume_switches_are_the_settings_that_change_results():
    from course.run import state
    from utils import settings

    assert state.SWITCHES == tuple(s.name for s in settings.SETTINGS if s.changes_results)
    assert {"DOGSCATS_BACKBONE", "DOGSCATS_DEVICES", "DOGSCATS_MIXED_PRECISION"} <= set(state.SWITCHES)
    assert not {"DOGSCATS_DATA", "DOGSCATS_RESULTS", "DOGSCATS_CHROMIUM"} & set(state.SWITCHES), "where, not what"
    default = state.switches({})
    assert "DOGSCATS_DEVICES=one" in default and "DOGSCATS_MIXED_PRECISION=0" in default
    assert state.switches({"DOGSCATS_DEVICES": " ONE ", "DOGSCATS_MIXED_PRECISION": "no"}) == default, \
        "the default, written out or not, is the same key"
    assert state.switches({"DOGSCATS_BACKBONE": "vgg16"}) != default
    with pytest.raises(ValueError, match="DOGSCATS_DEVICES must be one of one, all"):
        state.switches({"DOGSCATS_DEVICES": "two"})
    assert all(name in state.INPUT_NAMES["switches"] for name in state.SWITCHES)
