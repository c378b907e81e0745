"""The build cache trusts nothing it did not build (issue 12, items 1 and 2).

A cache key is a function of public inputs, so anyone who can write into a cache can plant a
library under the right key.  Here a harmless library is planted whose constructor (run by
dlopen) writes a marker file: the marker must never appear.  Roots not owned by the current
user or writable by group/others are refused with :class:`CacheError`; entries that fail
the owner/mode/size/sha256 checks are discarded and rebuilt; damaged libraries (truncated,
one byte flipped) are rebuilt, never loaded; publishing fsyncs files and directories.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlgn.compiler import random_netlist
from dlgn.compiler.simulate import predict
from dlgn.runtime import cache
from dlgn.runtime.c_build import build_c
from dlgn.runtime.cache import COMPLETE_MARKER, CacheError

HAS_CC = shutil.which(os.environ.get("CC") or "gcc") is not None or shutil.which("cc") is not None
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX ownership checks")

pytestmark = [needs_cc, posix_only]

NET = random_netlist(1212, n_inputs=7, n_gates=40, max_arity=3, n_outputs=6, n_classes=3)
X = np.random.default_rng(0).integers(0, 2, size=(300, 7)).astype(np.uint8)


def _private_dir(path):
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One honest build: its key (entry name) and the library's file name."""
    root = _private_dir(tmp_path_factory.mktemp("good") / "cache")
    m = build_c(NET, cache_dir=root, word_bits=64, threads=1)
    so = [p for p in m.build_dir.iterdir() if p.suffix == ".so"]
    assert len(so) == 1
    return m.build_dir, so[0].name


def _evil_library(tmp_path, witness):
    """A harmless shared library whose constructor writes ``witness`` when it is loaded."""
    src = tmp_path / "evil.c"
    src.write_text('#include <stdio.h>\n'
                   '__attribute__((constructor)) static void planted(void) {\n'
                   f'    FILE *f = fopen("{witness}", "w");\n'
                   '    if (f) { fputs("the planted library ran\\n", f); fclose(f); }\n'
                   '}\n')
    out = tmp_path / "evil.so"
    cc = os.environ.get("CC") or shutil.which("gcc") or "cc"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(out)], check=True)
    return out


def _plant(root, key, so_name, evil, *, entry_mode=0o700, so_mode=0o755):
    """``<root>/<key>/`` holding the evil library under the real name and a marker that
    records its true size and sha256 (an attacker can compute both)."""
    entry = root / key
    entry.mkdir()
    shutil.copyfile(evil, entry / so_name)
    data = (entry / so_name).read_bytes()
    marker = {"format": cache.MARKER_FORMAT,
              "files": {so_name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}}
    (entry / COMPLETE_MARKER).write_text(json.dumps(marker))
    os.chmod(entry / COMPLETE_MARKER, 0o644)
    os.chmod(entry / so_name, so_mode)
    os.chmod(entry, entry_mode)
    return entry


def _assert_honest(m, witness):
    np.testing.assert_array_equal(m.predict(X), predict(NET, X))
    assert not witness.exists(), "the planted library was loaded"
    assert cache.verify_entry(m.build_dir) is None
    mode = stat.S_IMODE(os.lstat(m.build_dir).st_mode)
    assert not mode & 0o022


# ------------------------------------------------------------------ item 1: the root
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o1777])
def test_a_root_writable_by_others_is_refused(tmp_path, good, mode):
    key, so_name = good[0].name, good[1]
    witness = tmp_path / "ran.txt"
    evil = _evil_library(tmp_path, witness)
    root = _private_dir(tmp_path / "shared-cache")
    _plant(root, key, so_name, evil)
    os.chmod(root, mode)
    with pytest.raises(CacheError) as e:
        build_c(NET, cache_dir=root, word_bits=64, threads=1)
    msg = str(e.value)
    assert "\n" not in msg and str(root) in msg and "writable by group or others" in msg
    assert not witness.exists()
    assert isinstance(e.value, RuntimeError)     # the CLI's one-line error path


def test_a_root_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    root = _private_dir(tmp_path / "c")
    me = os.geteuid()
    assert cache._check_owner(root, uid=me) is None
    why = cache._check_owner(root, uid=me + 4242)
    assert why and "owned by uid" in why
    with pytest.raises(CacheError, match="owned by uid"):
        cache.cache_root(root, uid=me + 4242)
    # through get_or_build: the process seen as another user (the root stays ours)
    monkeypatch.setattr(cache, "_current_uid", lambda: me + 4242)
    built = []
    with pytest.raises(CacheError, match="refusing the build cache"):
        cache.get_or_build("k" * 64, lambda tmp: built.append(tmp), cache_dir=root)
    assert not built


@pytest.mark.skipif(not IS_ROOT, reason="chown needs root")
def test_a_root_chowned_to_another_user_is_refused(tmp_path, good):
    key, so_name = good[0].name, good[1]
    witness = tmp_path / "ran.txt"
    root = _private_dir(tmp_path / "theirs")
    _plant(root, key, so_name, _evil_library(tmp_path, witness))
    os.chown(root, 4242, 4242)
    with pytest.raises(CacheError, match="owned by uid 4242"):
        build_c(NET, cache_dir=root, word_bits=64, threads=1)
    assert not witness.exists()


def test_a_new_root_is_created_private(tmp_path):
    root = tmp_path / "a" / "b" / "cache"
    assert cache.cache_root(root) == root
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700


def test_a_root_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(CacheError, match="not a directory"):
        cache.cache_root(f)


# ------------------------------------------------------------------ item 1: entries
def _plant_variant(kind, root, key, so_name, evil, tmp_path):
    if kind == "entry dir 0777":
        _plant(root, key, so_name, evil, entry_mode=0o777)
    elif kind == "library 0666":
        _plant(root, key, so_name, evil, so_mode=0o666)
    elif kind == "marker 0666":
        e = _plant(root, key, so_name, evil)
        os.chmod(e / COMPLETE_MARKER, 0o666)
    elif kind == "library is a symlink":
        e = _plant(root, key, so_name, evil)
        (e / so_name).unlink()
        (e / so_name).symlink_to(evil)
    elif kind == "entry is a symlink":
        elsewhere = _private_dir(tmp_path / "elsewhere")
        e = _plant(elsewhere, key, so_name, evil)
        (root / key).symlink_to(e, target_is_directory=True)
    elif kind == "entry owned by another user":
        e = _plant(root, key, so_name, evil)
        os.chown(e, 4242, 4242)
        os.chown(e / so_name, 4242, 4242)
        os.chown(e / COMPLETE_MARKER, 4242, 4242)
    elif kind == "marker omits the library":
        e = _plant(root, key, so_name, evil)
        (e / COMPLETE_MARKER).write_text(json.dumps({"format": cache.MARKER_FORMAT,
                                                     "files": {"other": {"size": 0,
                                                               "sha256": "0" * 64}}}))
    else:
        raise AssertionError(kind)


ENTRY_KINDS = ["entry dir 0777", "library 0666", "marker 0666", "library is a symlink",
               "entry is a symlink", "marker omits the library",
               pytest.param("entry owned by another user",
                            marks=pytest.mark.skipif(not IS_ROOT, reason="chown needs root"))]


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_an_untrusted_entry_is_rebuilt_never_loaded(tmp_path, good, kind, caplog):
    key, so_name = good[0].name, good[1]
    witness = tmp_path / "ran.txt"
    evil = _evil_library(tmp_path, witness)
    root = _private_dir(tmp_path / "cache")
    _plant_variant(kind, root, key, so_name, evil, tmp_path)
    assert cache.verify_entry(root / key, so_name) is not None
    with caplog.at_level("WARNING", logger="dlgn.runtime.cache"):
        m = build_c(NET, cache_dir=root, word_bits=64, threads=1)
    assert m.build_dir == root / key and not (root / key).is_symlink()
    _assert_honest(m, witness)
    assert "rebuilding" in caplog.text
    assert (m.build_dir / so_name).read_bytes() != evil.read_bytes()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]   # nothing left aside


def test_check_owner_reasons(tmp_path):
    p = tmp_path / "f"
    p.write_text("x")
    os.chmod(p, 0o644)
    assert cache._check_owner(p) is None
    os.chmod(p, 0o664)
    assert "writable by group or others (mode 664)" in cache._check_owner(p)
    os.chmod(p, 0o646)
    assert "writable" in cache._check_owner(p)


# ------------------------------------------------------------------ item 2: damage
def _copy_entry(src_entry, root):
    dst = root / src_entry.name
    shutil.copytree(src_entry, dst)
    return dst


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated", "one byte flipped", "emptied",
                                    "marker garbage", "old marker", "marker deleted",
                                    "library deleted", "wrong sha in marker"])
def test_a_damaged_entry_is_detected_removed_and_rebuilt(tmp_path, good, damage, caplog):
    good_entry, so_name = good
    root = _private_dir(tmp_path / "cache")
    entry = _copy_entry(good_entry, root)
    assert cache.verify_entry(entry, so_name) is None
    so, marker = entry / so_name, entry / COMPLETE_MARKER
    if damage == "truncated":
        _truncate(so)
    elif damage == "one byte flipped":
        _flip_one_byte(so)
    elif damage == "emptied":
        so.write_bytes(b"")
    elif damage == "marker garbage":
        marker.write_bytes(b"\x00\xff{not json")
    elif damage == "old marker":
        marker.write_text("ok\n")
    elif damage == "marker deleted":
        marker.unlink()
    elif damage == "library deleted":
        so.unlink()
    elif damage == "wrong sha in marker":
        doc = json.loads(marker.read_text())
        doc["files"][so_name]["sha256"] = "0" * 64
        marker.write_text(json.dumps(doc))
    assert cache.verify_entry(entry, so_name) is not None
    with caplog.at_level("WARNING", logger="dlgn.runtime.cache"):
        m = build_c(NET, cache_dir=root, word_bits=64, threads=1)
    assert m.build_dir == entry
    np.testing.assert_array_equal(m.predict(X), predict(NET, X))
    assert cache.verify_entry(entry, so_name) is None
    assert "rebuilding" in caplog.text
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_damage_is_detected_in_a_later_process(tmp_path, good):
    """The failure mode of the issue: a damaged library under a valid marker crashed every
    later process (SIGBUS/SIGILL).  A child process now rebuilds it and predicts right."""
    good_entry, so_name = good
    root = _private_dir(tmp_path / "cache")
    entry = _copy_entry(good_entry, root)
    _flip_one_byte(entry / so_name)
    code = textwrap.dedent(f"""
        import numpy as np
        from dlgn.compiler import random_netlist
        from dlgn.compiler.simulate import predict
        from dlgn.runtime.c_build import build_c
        net = random_netlist(1212, n_inputs=7, n_gates=40, max_arity=3, n_outputs=6,
                             n_classes=3)
        m = build_c(net, cache_dir={str(root)!r}, word_bits=64, threads=1)
        X = np.random.default_rng(0).integers(0, 2, size=(300, 7)).astype(np.uint8)
        assert (m.predict(X) == predict(net, X)).all()
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert cache.verify_entry(entry, so_name) is None


def test_the_marker_records_size_and_sha256_of_every_file(good):
    entry, so_name = good
    doc = json.loads((entry / COMPLETE_MARKER).read_text())
    assert doc["format"] == cache.MARKER_FORMAT
    names = sorted(p.name for p in entry.iterdir() if p.name != COMPLETE_MARKER)
    assert sorted(doc["files"]) == names and so_name in names
    for name, rec in doc["files"].items():
        data = (entry / name).read_bytes()
        assert rec == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    for p in [entry, *entry.iterdir()]:
        assert cache._check_owner(p) is None


def test_builds_are_private_whatever_the_umask(tmp_path):
    root = _private_dir(tmp_path / "cache")
    old = os.umask(0o002)                    # a group-writable umask (Debian's user default)
    try:
        m = build_c(NET, cache_dir=root, word_bits=128, threads=1)
    finally:
        os.umask(old)
    assert cache.verify_entry(m.build_dir) is None
    for p in [m.build_dir, *m.build_dir.iterdir()]:
        assert not stat.S_IMODE(os.lstat(p).st_mode) & 0o022, p
    assert build_c(NET, cache_dir=root, word_bits=128, threads=1).build_dir == m.build_dir


# ------------------------------------------------------------------ item 2: durability
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_files_and_directories_are_fsynced_before_publishing(tmp_path, monkeypatch):
    root = _private_dir(tmp_path / "cache")
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        events.append(("replace", os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)

    def builder(tmp):
        (tmp / "lib.so").write_bytes(b"\x7fELF pretend")
        (tmp / "src.c").write_text("int x;\n")

    final = cache.get_or_build("f" * 64, builder, cache_dir=root, artifact="lib.so")
    pub = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(final)]
    assert len(pub) == 1
    tmp = events[pub[0]][1]
    before = {e[1] for e in events[:pub[0]] if e[0] == "fsync"}
    after = {e[1] for e in events[pub[0]:] if e[0] == "fsync"}
    for name in ("lib.so", "src.c"):
        assert os.path.join(tmp, name) in before
    # the marker too (written through the atomic writer: fsynced under its temp name)
    assert any(os.path.basename(p).startswith(f".{COMPLETE_MARKER}.") for p in before)
    assert tmp in before                         # the build directory
    assert str(root) in after                    # and the root, after the rename
    assert cache.verify_entry(final, "lib.so") is None


def test_a_build_without_its_artifact_is_not_published(tmp_path):
    root = _private_dir(tmp_path / "cache")
    with pytest.raises(CacheError, match="did not produce"):
        cache.get_or_build("e" * 64, lambda tmp: (tmp / "x").write_text("x"), cache_dir=root,
                           artifact="lib.so")
    assert list(root.iterdir()) == []


def test_a_failed_build_leaves_nothing(tmp_path):
    root = _private_dir(tmp_path / "cache")

    def boom(tmp):
        (tmp / "half.so").write_bytes(b"x")
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError, match="compiler crashed"):
        cache.get_or_build("d" * 64, boom, cache_dir=root)
    assert list(root.iterdir()) == []


def test_a_refused_root_is_one_cli_error_line(tmp_path, monkeypatch, capsys):
    from dlgn.cli import main
    root = _private_dir(tmp_path / "shared")
    os.chmod(root, 0o777)
    monkeypatch.setenv("DLGN_CACHE_DIR", str(root))
    NET.save(tmp_path / "n.dlgn.npz")
    np.save(tmp_path / "x.npy", X)
    rc = main(["-q", "predict", str(tmp_path / "n.dlgn.npz"), "--input",
               str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"), "--target", "c"])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dlgn predict: error: refusing the build cache")
    assert not (tmp_path / "y.npy").exists() and list(root.iterdir()) == []
