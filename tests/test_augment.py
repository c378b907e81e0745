"""Training-data augmentation (``dlgn.frontend.augment``, ``train(augment=...)``,
``dlgn train --shift N``): image shifts against a per-image reference, an epoch's data a
pure function of (seed, epoch) so a resumed run is bit-identical, and the CLI's refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlgn.frontend.augment import AugmentError, Compose, ImageFlip, ImageShift, image_shape


def _shift_ref(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """img [C, H, W] moved down by dy and right by dx, zeros where nothing moved in."""
    c, h, w = img.shape
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            sy, sx = y - dy, x - dx
            if 0 <= sy < h and 0 <= sx < w:
                out[:, y, x] = img[:, sy, sx]
    return out


@settings(max_examples=40, deadline=None)
@given(c=st.sampled_from([1, 3]), side=st.integers(1, 7), s=st.integers(0, 3),
       n=st.sampled_from([0, 1, 5, 64, 65]), seed=st.integers(0, 2 ** 32 - 1))
def test_shift_moves_each_image_by_its_own_offset(c, side, s, n, seed):
    if s >= side:
        with pytest.raises(AugmentError):
            ImageShift((c, side, side), s)
        return
    aug = ImageShift((c, side, side), s)
    x = np.random.default_rng(seed).random((n, c * side * side), dtype=np.float32) + 0.5
    out = aug(x, np.random.default_rng(seed))
    assert out.shape == x.shape and out.dtype == x.dtype and out is not x
    # the offsets the generator drew, in the order ImageShift draws them
    rng = np.random.default_rng(seed)
    if s and n:
        dy, dx = rng.integers(-s, s + 1, size=n), rng.integers(-s, s + 1, size=n)
    else:
        dy = dx = np.zeros(n, dtype=int)
    imgs, outs = x.reshape(n, c, side, side), out.reshape(n, c, side, side)
    for i in range(n):
        np.testing.assert_array_equal(outs[i], _shift_ref(imgs[i], int(dy[i]), int(dx[i])))
    np.testing.assert_array_equal(x, np.random.default_rng(seed).random(
        (n, c * side * side), dtype=np.float32) + 0.5)            # the input is untouched


def test_shift_draws_every_offset_and_keeps_the_mass_of_a_centred_digit():
    aug = ImageShift((1, 28, 28), 2)
    x = np.zeros((2000, 784), np.float32)
    x.reshape(-1, 28, 28)[:, 10:18, 10:18] = 1.0       # a centred blob: never pushed out
    out = aug(x, np.random.default_rng(0)).reshape(-1, 28, 28)
    assert (out.sum(axis=(1, 2)) == 64).all()
    tops = {int(np.flatnonzero(o.any(axis=1))[0]) - 10 for o in out}
    lefts = {int(np.flatnonzero(o.any(axis=0))[0]) - 10 for o in out}
    assert tops == lefts == {-2, -1, 0, 1, 2}


def test_shift_refuses_what_does_not_fit():
    with pytest.raises(AugmentError, match="square image"):
        image_shape(14)
    assert image_shape(784) == (1, 28, 28) and image_shape(3072) == (3, 32, 32)
    for bad in (-1, 28, 1.5, True):
        with pytest.raises(AugmentError, match="max_shift"):
            ImageShift((1, 28, 28), bad)
    with pytest.raises(AugmentError, match="not 1x28x28"):
        ImageShift((1, 28, 28), 1)(np.zeros((3, 100), np.float32), np.random.default_rng(0))


# ---------------------------------------------------------------- train(augment=...)
torch = pytest.importorskip("torch")

from dlgn.frontend.data import load_dataset, make_encoder  # noqa: E402
from dlgn.frontend.net import LogicNet  # noqa: E402
from dlgn.frontend.train import TrainingError, load_checkpoint, train  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits")
    return d


def _net(d, seed=0):
    return LogicNet(d.n_features, layers=[60, 40], n_classes=d.n_classes, tau=10.0,
                    encoder=make_encoder(d), seed=seed)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_augmented_training_resumes_bit_identically(digits, tmp_path):
    """An interrupted augmented run, resumed, ends with the uninterrupted run's weights and
    history; the augmentation changes what is learned; a second identical run repeats it."""
    torch.set_num_threads(1)
    aug = ImageShift(image_shape(digits.n_features), 1)
    kw = dict(epochs=3, batch_size=256, lr=0.05, progress=False, eval_every=1, seed=3,
              val_split=0.1, augment=aug)
    ref = _net(digits)
    h_ref = train(ref, digits, **kw)
    again = _net(digits)
    assert train(again, digits, **kw)["loss"] == h_ref["loss"] and _same(again, ref)
    plain = _net(digits)
    train(plain, digits, **dict(kw, augment=None))
    assert not _same(plain, ref)
    ck = tmp_path / "ck.pt"
    a = _net(digits)
    steps = h_ref["step"][0]                                # steps per epoch
    assert train(a, digits, checkpoint=ck, max_steps=steps + 2, **kw)["stopped"]
    assert load_checkpoint(ck)["epoch"] == 1
    b = _net(digits, seed=99)
    h_b = train(b, digits, checkpoint=ck, resume=True, **kw)
    assert _same(b, ref)
    for k in ("loss", "train_acc", "val_discrete_acc", "discrete_acc", "step"):
        assert h_b[k] == h_ref[k], k
    # resuming with another shift, or none, is refused instead of mixing two recipes
    for other in (ImageShift(image_shape(digits.n_features), 2), None):
        with pytest.raises(TrainingError, match="augment"):
            train(_net(digits), digits, checkpoint=ck, resume=True, **dict(kw, augment=other))


def test_resume_with_a_function_augmentation(digits, tmp_path):
    """A plain function as ``augment`` resumes although its repr has an address: each call
    of ``make`` gives a new function object, as a new process would."""
    def make():
        def flip_none(x, rng):
            return x
        return flip_none
    first, second = make(), make()
    assert repr(first) != repr(second)
    kw = dict(epochs=2, batch_size=256, lr=0.05, progress=False, seed=3)
    ck = tmp_path / "ck.pt"
    assert train(_net(digits), digits, checkpoint=ck, max_steps=2, augment=first,
                 **kw)["stopped"]
    assert not train(_net(digits), digits, checkpoint=ck, resume=True, augment=second,
                     **kw)["stopped"]


def test_augment_must_keep_the_rows(digits):
    with pytest.raises(TrainingError, match="callable"):
        train(_net(digits), digits, epochs=1, progress=False, augment="shift")
    with pytest.raises(TrainingError, match="shape"):
        train(_net(digits), digits, epochs=1, progress=False,
              augment=lambda x, rng: x[:10])


@settings(max_examples=40, deadline=None)
@given(c=st.sampled_from([1, 3]), h=st.integers(1, 6), w=st.integers(1, 6),
       n=st.sampled_from([0, 1, 5, 63, 64, 65]), seed=st.integers(0, 2 ** 32 - 1))
def test_flip_mirrors_each_image_or_leaves_it(c, h, w, n, seed):
    x = np.random.default_rng(seed).random((n, c * h * w)).astype(np.float32)
    before = x.copy()
    out = ImageFlip((c, h, w))(x, np.random.default_rng(seed))
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(x, before)                   # the input is left alone
    flips = np.random.default_rng(seed).random(n) < 0.5       # the coin it draws per image
    for i in range(n):
        img = x[i].reshape(c, h, w)
        want = img[:, :, ::-1] if flips[i] else img
        np.testing.assert_array_equal(out[i].reshape(c, h, w), want)


def test_flip_flips_about_half_and_compose_chains_in_order():
    x = np.arange(2000 * 12, dtype=np.float32).reshape(2000, 12)      # 1 x 3 x 4 images
    out = ImageFlip((1, 3, 4))(x, np.random.default_rng(1))
    flipped = (out != x).any(axis=1).mean()
    assert 0.45 < flipped < 0.55
    both = Compose([ImageShift((1, 3, 4), 1), ImageFlip((1, 3, 4))])
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    want = ImageFlip((1, 3, 4))(ImageShift((1, 3, 4), 1)(x, rng_b), rng_b)
    np.testing.assert_array_equal(both(x, rng_a), want)
    assert repr(both) == "Compose([ImageShift(shape=(1, 3, 4), max_shift=1), " \
                         "ImageFlip(shape=(1, 3, 4))])"
    with pytest.raises(AugmentError):
        ImageFlip((1, 3, 4))(x[:, :10], np.random.default_rng(0))
    with pytest.raises(AugmentError):
        Compose([ImageFlip((1, 3, 4)), "not callable"])


# ---------------------------------------------------------------- the CLI
def test_shift_option(tmp_path):
    from dlgn.cli import main
    from dlgn.frontend.checkpoint import read_model_file
    out = tmp_path / "m.pt"
    assert main(["-q", "train", "--dataset", "digits", "--layers", "2x200", "--epochs", "5",
                 "--shift", "1", "--threads", "1", "--no-progress", "-o", str(out)]) == 0
    hist = json.loads(read_model_file(out)["extra"]["history"])
    assert len(hist["epoch"]) == 5 and hist["discrete_acc"][-1] > 0.2   # chance: 0.1
    for bad in (["--dataset", "breast-cancer", "--shift", "1"],      # not images
                ["--dataset", "digits", "--shift", "8"],             # 8x8 images
                ["--dataset", "digits", "--shift", "-1"]):
        assert main(["-q", "train", *bad, "--epochs", "1", "-o", str(tmp_path / "x.pt")]) == 2
        assert not (tmp_path / "x.pt").exists()


def test_flip_option(tmp_path):
    from dlgn.cli import main
    from dlgn.frontend.checkpoint import read_model_file
    out = tmp_path / "m.pt"
    assert main(["-q", "train", "--dataset", "digits", "--layers", "2x200", "--epochs", "5",
                 "--flip", "--shift", "1", "--threads", "1", "--no-progress",
                 "--checkpoint", str(tmp_path / "c.ckpt"), "-o", str(out)]) == 0
    obj = read_model_file(out)
    recipe = json.loads(obj["extra"]["recipe"])
    assert recipe["flip"] is True and recipe["shift"] == 1
    assert json.loads(obj["extra"]["history"])["discrete_acc"][-1] > 0.2     # chance: 0.1
    assert main(["-q", "train", "--dataset", "breast-cancer", "--flip", "--epochs", "1",
                 "-o", str(tmp_path / "x.pt")]) == 2                        # not images
    assert not (tmp_path / "x.pt").exists()
