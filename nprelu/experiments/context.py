"""What every experiment's ``run(ctx)`` receives: the profile, the data, the seed, the models.

An experiment reads its test subset with :meth:`Context.test` and its trained networks with
:meth:`Context.model` (the :class:`~nprelu.experiments.store.ModelStore` trains each network
once per output directory); it returns ``(numbers, settings)`` and never writes files itself.

A context that only plans and combines units of work (``experiments/units.py``) has neither data
nor models (``data`` and ``store`` None): ``units(ctx)`` and ``combine(ctx, partials)`` read
only ``profile``, ``seed`` and ``n_seeds``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .store import ModelSpec, ModelStore


@dataclass
class Context:
    profile: object               # a config.Profile
    backend: object               # a backend.Backend
    seed: int
    data: tuple | None            # (x_train, y_train, x_test, y_test) on the device
    store: ModelStore | None
    n_seeds: int = 1              # --seeds: Table 1 over seeds seed, seed + 1, ...

    @classmethod
    def create(cls, out_dir, profile, backend, seed, data, n_seeds=1) -> "Context":
        """A context whose models live in ``out_dir/models``."""
        return cls(profile, backend, seed, data, ModelStore(out_dir, profile, backend, data[:2]),
                   n_seeds)

    @classmethod
    def plan(cls, profile, backend, seed, n_seeds=1) -> "Context":
        """A context without data or models, to list and combine units (module doc)."""
        return cls(profile, backend, seed, None, None, n_seeds)

    def test(self, n):
        """The first ``n`` test images and labels (all when ``n`` is None)."""
        _, _, x, y = self.data
        return (x, y) if n is None else (x[:n], y[:n])

    def model(self, spec: ModelSpec):
        """The trained network for ``spec`` (see :class:`ModelStore`)."""
        return self.store.model(spec)

    def shared(self, name: str, config: dict, compute):
        """An array computed once per output directory (see :meth:`ModelStore.shared`)."""
        return self.store.shared(name, config, compute)
