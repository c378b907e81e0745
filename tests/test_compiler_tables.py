"""The vectorized table algebra (dlgn.compiler.tables) against the one-entry definition."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlgn.compiler.gates import eval_table
from dlgn.compiler.tables import cofactor, depends_on, explode, full_mask, implode, \
    negate_input, permute_inputs


def rand_tables(rng, k, n):
    t = rng.integers(0, 1 << 62, size=n, dtype=np.int64).astype(np.uint64)
    t |= rng.integers(0, 4, size=n).astype(np.uint64) << np.uint64(62)
    return t & full_mask(k)


def ev(t, k, x):
    return eval_table(int(t), k, list(x))


@pytest.mark.parametrize("k", range(7))
def test_explode_implode_round_trip(k):
    t = rand_tables(np.random.default_rng(k), k, 50)
    b = explode(t, k)
    assert b.shape == (50, 1 << k)
    assert np.array_equal(implode(b), t)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31))
def test_cofactor_negate_permute_depends(k, seed):
    rng = np.random.default_rng(seed)
    n = 8
    t = rand_tables(rng, k, n)
    i = rng.integers(0, k, size=n)
    v = rng.integers(0, 2, size=n)
    perm = np.array([rng.permutation(k) for _ in range(n)])
    cof, neg, per = cofactor(t, k, i, v), negate_input(t, k, i), permute_inputs(t, k, perm)
    dep = depends_on(t, k)
    for g in range(n):
        for x in itertools.product((0, 1), repeat=k):
            xc = list(x)
            xc[i[g]] = v[g]
            assert ev(cof[g], k, x) == ev(t[g], k, xc)
            xn = list(x)
            xn[i[g]] ^= 1
            assert ev(neg[g], k, x) == ev(t[g], k, xn)
            # new input j is old input perm[j]: old x[perm[j]] = new y[j]
            old = [0] * k
            for j in range(k):
                old[perm[g, j]] = x[j]
            assert ev(per[g], k, x) == ev(t[g], k, old)
        for j in range(k):
            expect = any(ev(t[g], k, x) != ev(t[g], k, x[:j] + (1 - x[j],) + x[j + 1:])
                         for x in itertools.product((0, 1), repeat=k))
            assert dep[g, j] == expect
    assert not depends_on(cof, k)[np.arange(n), i].any()


def test_bad_arity_is_rejected():
    with pytest.raises(ValueError):
        explode(np.zeros(1, np.uint64), 7)
