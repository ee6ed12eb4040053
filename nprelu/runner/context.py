"""What every experiment's ``run(ctx)`` receives: the profile, the data, the seed, the models.

An experiment reads its test subset with :meth:`Context.test` and its trained networks with
:meth:`Context.model` (the :class:`~nprelu.runner.store.ModelStore` trains each network
once per output directory); it returns ``(numbers, settings)`` and never writes files itself.

A run covers the seeds ``seed, seed + 1, ..., seed + n_seeds - 1`` (``--seed``, ``--seeds``);
one unit of work, and one call of an experiment's ``run``, is for one seed: ``ctx.seed``
(:meth:`Context.for_seed`). The seed sets the networks' initialisation and shuffle
(``ModelSpec.seed``), the attacks' random starts and the test subsets (:func:`subset_indices`).

A context that only plans and combines units of work (``runner/units.py``) has neither data
nor models (``data`` and ``store`` None): ``units(ctx)`` and ``combine(ctx, partials)`` read
only ``profile``, ``seed`` and ``n_seeds``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from .store import ModelSpec, ModelStore

#: Mixed into every test-subset draw, so that a subset's generator is never another draw's.
SUBSET_SALT = 20_240_613


def subset_indices(seed: int, n, total: int):
    """The test images of the subset of ``n`` for ``seed``: ``n`` indices of ``range(total)``
    drawn uniformly without replacement (not stratified by class) by
    ``numpy.random.default_rng([SUBSET_SALT, seed, n])``, sorted ascending; ``n`` None (or
    ``n >= total``): all of them, in order. One generator per (seed, n): every network of a seed
    sees the same subset of each size; another seed draws another."""
    if n is None or n >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng([SUBSET_SALT, int(seed), int(n)])
    return np.sort(rng.choice(total, size=int(n), replace=False)).astype(np.int64)


def subset_record(indices) -> dict:
    """What the summary records of a drawn subset (``meta.subsets_drawn[seed][n]``): the first
    16 hex digits of the SHA-256 of its indices as int64 bytes, their count and the first 5."""
    idx = np.asarray(indices, dtype=np.int64)
    return {"sha256": hashlib.sha256(idx.tobytes()).hexdigest()[:16], "count": int(len(idx)),
            "first": [int(i) for i in idx[:5]]}


def subset_key(n) -> str:
    """The key of a subset of ``n`` images in ``meta.subsets_drawn[seed]``: "500", or "all"."""
    return "all" if n is None else str(int(n))


@dataclass
class Context:
    profile: object               # a config.Profile
    backend: object               # a backend.Backend
    seed: int                     # the seed of this unit (of a run: its first seed)
    data: tuple | None            # (x_train, y_train, x_test, y_test) on the device
    store: ModelStore | None
    n_seeds: int = 1              # --seeds: the run covers seed, seed + 1, ...
    #: Subsets drawn so far, {(seed, n): (x, y, record, indices)}; shared by the contexts of
    #: every seed.
    subsets: dict = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, out_dir, profile, backend, seed, data, n_seeds=1) -> "Context":
        """A context whose models live in ``out_dir/models``."""
        return cls(profile, backend, seed, data, ModelStore(out_dir, profile, backend, data[:2]),
                   n_seeds)

    @classmethod
    def plan(cls, profile, backend, seed, n_seeds=1) -> "Context":
        """A context without data or models, to list and combine units (module doc)."""
        return cls(profile, backend, seed, None, None, n_seeds)

    @property
    def seeds(self) -> list:
        """The seeds of the run: ``seed, seed + 1, ..., seed + n_seeds - 1``."""
        return list(range(self.seed, self.seed + self.n_seeds))

    def for_seed(self, seed: int) -> "Context":
        """This context for one seed of the run (same data, models and drawn subsets)."""
        return replace(self, seed=int(seed), n_seeds=1)

    def test(self, n):
        """The test subset of ``n`` images of this seed (:func:`subset_indices`; all 10,000 when
        ``n`` is None): ``(x, y)``, the images in ascending index order."""
        key = (self.seed, n)
        if key not in self.subsets:
            _, _, x, y = self.data
            idx = subset_indices(self.seed, n, len(y))
            if len(idx) < len(y):
                dev = self.backend.asarray(idx)
                x, y = x[dev], y[dev]
            self.subsets[key] = (x, y, subset_record(idx), idx)
        x, y, _, _ = self.subsets[key]
        return x, y

    def indices(self, n):
        """The test-image indices of :meth:`test` ``(n)`` (host, int64, ascending): what a
        per-image :class:`~nprelu.outcomes.Outcome` names its images by."""
        self.test(n)
        return self.subsets[(self.seed, n)][3]

    def drawn(self) -> dict:
        """``{seed: {subset_key(n): subset_record}}`` of every subset drawn so far (as strings)."""
        out: dict = {}
        for (seed, n), (_, _, record, _) in self.subsets.items():
            out.setdefault(str(seed), {})[subset_key(n)] = record
        return out

    def model(self, spec: ModelSpec):
        """The trained network for ``spec`` (see :class:`ModelStore`)."""
        return self.store.model(spec)

    def shared(self, name: str, config: dict, compute):
        """An array computed once per output directory (see :meth:`ModelStore.shared`)."""
        return self.store.shared(name, config, compute)
