"""The build cache's place (DLGN_CACHE_DIR, else XDG_CACHE_HOME, else the platform's user
cache directory) and ``dlgn cache info|clear`` (the real command)."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlgn.compiler import random_netlist
from dlgn.runtime import cache
from dlgn.runtime.c_build import build_c
from dlgn.runtime.cache import COMPLETE_MARKER, platform_cache_root

HAS_CC = any(shutil.which(c) for c in ("gcc", "clang", "cc"))
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler")
POSIX_OWNERS = hasattr(os, "geteuid")


def _dlgn(*argv, env=None):
    """Run the real ``dlgn`` command in a process of its own."""
    env = dict(os.environ if env is None else env, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-m", "dlgn", *argv], env=env, capture_output=True,
                          text=True, timeout=300)


def _env_without_cache_vars(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DLGN_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(extra)
    return env


# ---------------------------------------------------------------- where the cache is
def test_xdg_cache_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.delenv("DLGN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_root() == tmp_path / "xdg" / "dlgn"
    assert cache.cache_root() == tmp_path / "xdg" / "dlgn"
    assert cache.root_source() == "XDG_CACHE_HOME"
    if HAS_CC:
        m = build_c(random_netlist(1, n_inputs=5, n_classes=2), word_bits=64, threads=1)
        assert m.build_dir.parent == tmp_path / "xdg" / "dlgn"


def test_dlgn_cache_dir_wins_over_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DLGN_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_root() == tmp_path / "mine"
    assert cache.root_source() == "DLGN_CACHE_DIR"
    assert cache.cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache.root_source(tmp_path / "arg") == "argument"
    assert not (tmp_path / "xdg").exists()


def test_platform_fallbacks(monkeypatch):
    monkeypatch.setitem(sys.modules, "platformdirs", None)       # not installed
    home = Path("/home/u")
    assert platform_cache_root("linux", {}, home) == home / ".cache" / "dlgn"
    assert platform_cache_root("linux", {"XDG_CACHE_HOME": "rel/x"}, home) == \
        home / ".cache" / "dlgn"                                  # relative: ignored (XDG)
    assert platform_cache_root("linux", {"XDG_CACHE_HOME": "/c"}, home) == Path("/c/dlgn")
    assert platform_cache_root("darwin", {}, home) == home / "Library" / "Caches" / "dlgn"
    assert platform_cache_root("darwin", {"XDG_CACHE_HOME": "/c"}, home) == Path("/c/dlgn")
    assert platform_cache_root("win32", {"LOCALAPPDATA": "/L"}, home) == Path("/L/dlgn/Cache")
    assert platform_cache_root("win32", {}, home) == home / "AppData" / "Local" / "dlgn" / "Cache"


def test_platformdirs_is_used_when_installed(monkeypatch, tmp_path):
    import types
    fake = types.ModuleType("platformdirs")
    fake.user_cache_dir = lambda name, appauthor=None: str(tmp_path / "pd" / name)
    monkeypatch.setitem(sys.modules, "platformdirs", fake)
    assert platform_cache_root(sys.platform, {}, Path("/h")) == tmp_path / "pd" / "dlgn"
    assert platform_cache_root(sys.platform, {"XDG_CACHE_HOME": "/x"}, Path("/h")) == \
        Path("/x/dlgn")


def test_info_of_a_missing_root_creates_nothing(tmp_path):
    r = _dlgn("cache", "info", "--json", env=_env_without_cache_vars(
        XDG_CACHE_HOME=str(tmp_path / "xdg")))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["root"] == str(tmp_path / "xdg" / "dlgn") and info["source"] == "XDG_CACHE_HOME"
    assert info["exists"] is False and info["entries"] == 0
    assert not (tmp_path / "xdg").exists()


# ---------------------------------------------------------------- info and clear
def _fill(root: Path):
    """Two builds, plus what clear must leave: a file and a folder of the user's, a key-named
    folder without a marker, a symlink to a build elsewhere; and temporary directories."""
    m1 = build_c(random_netlist(2, n_inputs=5, n_classes=2), cache_dir=root, word_bits=64)
    m2 = build_c(random_netlist(3, n_inputs=6, n_classes=3), cache_dir=root, word_bits=64)
    (root / "notes.txt").write_text("mine\n")
    (root / "project").mkdir()
    (root / ("a" * 64)).mkdir(mode=0o700)
    (root / ("a" * 64) / "x").write_text("no marker\n")
    elsewhere = root.parent / "elsewhere"
    shutil.copytree(m1.build_dir, elsewhere / m1.build_dir.name)
    os.symlink(elsewhere / m1.build_dir.name, root / ("b" * 64))
    old_tmp = root / ".0123456789abcdef.k2j3h4"
    old_tmp.mkdir(mode=0o700)
    (old_tmp / "model.c").write_text("x" * 100)
    past = time.time() - 2 * cache.TEMP_GRACE_SECONDS
    os.utime(old_tmp, (past, past))
    young_tmp = root / ".fedcba9876543210.a1b2c3"
    young_tmp.mkdir(mode=0o700)
    return m1, m2, elsewhere


@needs_cc
def test_info_and_clear(tmp_path):
    root = tmp_path / "cache"
    m1, m2, elsewhere = _fill(root)
    env = _env_without_cache_vars(DLGN_CACHE_DIR=str(root))
    r = _dlgn("cache", "info", "--json", env=env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    sizes = sum(p.stat().st_size for m in (m1, m2) for p in m.build_dir.iterdir())
    assert (info["entries"], info["entry_bytes"]) == (2, sizes)
    assert (info["temp_dirs"], info["temp_bytes"]) == (2, 100)
    assert info["other"] == 4 and info["source"] == "DLGN_CACHE_DIR"
    text = _dlgn("cache", "info", env=env)
    assert text.returncode == 0 and str(root) in text.stdout and "2 (" in text.stdout

    r = _dlgn("cache", "clear", "--json", env=env)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res["removed"], res["removed_temp"]) == (2, 1)
    assert res["freed_bytes"] == sizes + 100
    left = sorted(p.name for p in root.iterdir())
    assert left == sorted([".fedcba9876543210.a1b2c3", "a" * 64, "b" * 64, "notes.txt",
                           "project"])
    assert (root / "notes.txt").read_text() == "mine\n"
    assert (elsewhere / m1.build_dir.name / COMPLETE_MARKER).exists()   # not followed
    assert {k["name"] for k in res["kept"]} == set(left)
    # the cache still works after a clear: the model is rebuilt
    net = random_netlist(2, n_inputs=5, n_classes=2)
    m = build_c(net, cache_dir=root, word_bits=64)
    X = np.random.default_rng(0).integers(0, 2, (20, 5)).astype(np.uint8)
    from dlgn.compiler.simulate import predict
    np.testing.assert_array_equal(m.predict(X), predict(net, X))
    r = _dlgn("cache", "clear", env=env)
    assert r.returncode == 0 and "removed 1 build " in r.stdout, r.stdout


@needs_cc
def test_clear_removes_legacy_entries(tmp_path):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    old = root / ("c" * 64)
    old.mkdir(mode=0o700)
    (old / "_dlgn_c_x.so").write_bytes(b"\x7fELF")
    (old / COMPLETE_MARKER).write_text("ok\n")          # the marker before sha256 records
    res = cache.clear_cache(root)
    assert res["removed"] == 1 and not old.exists()


@pytest.mark.skipif(not POSIX_OWNERS, reason="no POSIX owners and modes")
def test_clear_refuses_an_untrusted_root(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o777)
    (root / ("d" * 64)).mkdir()
    for action in ("info", "clear"):
        r = _dlgn("cache", action, "--cache-dir", str(root), env=_env_without_cache_vars())
        assert r.returncode == 1, (action, r.stderr)
        assert r.stderr.count("\n") == 1 and "refusing the build cache" in r.stderr
        assert "Traceback" not in r.stderr
    assert (root / ("d" * 64)).exists()


@pytest.mark.skipif(not POSIX_OWNERS, reason="no POSIX owners and modes")
def test_clear_keeps_an_entry_others_may_write(tmp_path):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    e = root / ("e" * 64)
    e.mkdir()
    (e / COMPLETE_MARKER).write_text("ok\n")
    os.chmod(e, 0o777)
    res = cache.clear_cache(root)
    assert res["removed"] == 0 and e.exists()
    assert "writable by group or others" in res["kept"][0]["why"]
