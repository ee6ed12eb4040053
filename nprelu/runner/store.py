"""The model store: each network an experiment needs is trained once per output directory.

A model is described by a :class:`ModelSpec` (architecture, training caps, seed and, for
Table 1, adversarial fine-tuning, whose examples follow the true gradient or, for the control
experiment, a BPDA surrogate through the caps). :meth:`ModelStore.model` returns it from
memory, from its checkpoint ``DIR/models/NAME.npz`` when that file was trained with exactly
the same configuration (kept in the checkpoint's ``meta``), or trains and saves it. A corrupt
checkpoint, or one trained under other settings, is retrained, not reused.

Processes share the directory (``run_all.py --jobs N`` runs units of work on N workers): each
network is loaded or trained under an exclusive lock of its own (``models/.NAME.npz.lock``,
``flock``), so the first process to need it trains it and writes the checkpoint (atomically)
while the others wait, then load it. :meth:`ModelStore.shared` does the same for an array that
several units need (Figures 1-2's adversarial images).
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import paper
from ..checkpoint import locked  # noqa: F401 (the per-network lock; units use it too)
from ..activations import check_surrogate
from ..adversarial_training import adversarial_hook
from ..checkpoint import CheckpointError, atomic_write_bytes
from ..network import MLP
from ..progress import log
from ..train import train

#: Adversarial training's PGD (our choice; see ``nprelu.adversarial_training``).
ADV_PGD = {"step": paper.SECTION8["pgd"]["step"], "steps": paper.SECTION8["pgd"]["steps"]}


@dataclass(frozen=True)
class ModelSpec:
    """A network to train: ``caps`` are the training caps; ``adv`` is None, 'fgsm' or 'pgd';
    ``adv_surrogate``: the gradient its adversarial examples follow, None (the true gradient,
    Table 1's) or a BPDA surrogate of the capped layers ("relu": straight through the cap;
    :func:`~nprelu.adversarial_training.adversarial_hook`). Left None, it appears neither in
    the name nor in the checkpoint's config, which stay those of the networks trained before
    it existed."""

    sizes: tuple
    caps: tuple
    seed: int = 0
    adv: str | None = None
    adv_eps: float = paper.SECTION8["adv_eps"]
    adv_surrogate: str | None = None

    def __post_init__(self):
        check_surrogate(self.adv_surrogate)
        if self.adv_surrogate is not None and self.adv is None:
            raise ValueError(f"ModelSpec: adv_surrogate {self.adv_surrogate!r} needs an "
                             "adversarial training (adv 'fgsm' or 'pgd')")

    @property
    def name(self) -> str:
        caps = "-".join("none" if c is None else format(c, "g") for c in self.caps)
        arch = "-".join(str(s) for s in self.sizes[1:-1])
        adv = f"_{self.adv}{format(self.adv_eps, 'g')}" if self.adv else ""
        through = f"_bpda-{self.adv_surrogate}" if self.adv_surrogate else ""
        return f"{arch}_cap{caps}{adv}{through}_s{self.seed}"

    @property
    def base(self) -> "ModelSpec":
        """The clean-trained model an adversarially trained one starts from."""
        return replace(self, adv=None, adv_surrogate=None)

    def uncapped(self) -> "ModelSpec":
        """The same network with plain ReLU everywhere (the transfer attack's source). Without
        caps a surrogate is the true gradient, so it is the true-gradient-trained network."""
        return replace(self, caps=tuple(None for _ in self.caps), adv_surrogate=None)

    def as_config(self) -> dict:
        """The fields that name the trained weights: every field, less ``adv_surrogate`` when
        it is None (so networks trained before the field existed keep their config)."""
        fields = asdict(self)
        if self.adv_surrogate is None:
            del fields["adv_surrogate"]
        return fields


class ModelStore:
    """Trained networks of one output directory (see the module doc)."""

    def __init__(self, out_dir, profile, backend, train_data):
        self.dir = Path(out_dir) / "models"
        self.profile, self.backend = profile, backend
        x, y = train_data
        if profile.train_subset is not None:
            x, y = x[:profile.train_subset], y[:profile.train_subset]
        self.x, self.y = x, y
        self._trained: dict = {}

    def path(self, spec: ModelSpec) -> Path:
        return self.dir / f"{spec.name}.npz"

    def config(self, spec: ModelSpec) -> dict:
        """Everything that determines the trained weights, as stored in the checkpoint."""
        p = self.profile
        cfg = {"spec": spec.as_config(), "train_subset": p.train_subset, "epochs": p.epochs,
               "batch_size": p.batch_size, "lr": paper.SECTION8["lr"]}
        if spec.adv:
            cfg.update(adv_epochs=p.adv_epochs, adv_step=ADV_PGD["step"], adv_steps=ADV_PGD["steps"])
        return json.loads(json.dumps(cfg))  # tuples -> lists, as they come back from JSON

    def model(self, spec: ModelSpec) -> MLP:
        """The trained network for ``spec``: from memory, a matching checkpoint, or trained now
        (under the network's lock, so that concurrent processes train it once: see the module
        doc)."""
        if spec not in self._trained:
            with locked(self.path(spec)):
                self._trained[spec] = self._load(spec) or self._train_and_save(spec)
        return self._trained[spec]

    def shared(self, name: str, config: dict, compute):
        """The array ``compute()`` returns, computed once per output directory: kept in memory
        and in ``models/NAME.npz`` with ``config`` (JSON-able: everything the array depends on);
        a file made with another ``config``, or unreadable, is computed again. Under a lock of
        its own, like :meth:`model`."""
        key = ("shared", name)
        if key not in self._trained:
            path = self.dir / f"{name}.npz"
            with locked(path):
                config = json.loads(json.dumps(config))
                array = _read_shared(path, config)
                if array is None:
                    array = compute()
                    buf = io.BytesIO()
                    np.savez(buf, array=self.backend.to_host(array),
                             config=np.asarray(json.dumps(config, sort_keys=True)))
                    atomic_write_bytes(path, buf.getvalue())
                else:
                    array = self.backend.asarray(array)
            self._trained[key] = array
        return self._trained[key]

    def _load(self, spec: ModelSpec) -> MLP | None:
        path = self.path(spec)
        if not path.exists():
            return None
        try:
            net = MLP.load(path, self.backend)
        except CheckpointError as exc:
            log(f"retraining {spec.name}: {exc}")
            return None
        if net.meta.get("config") != self.config(spec):
            log(f"retraining {spec.name}: its checkpoint was trained with other settings")
            return None
        return net

    def _train_and_save(self, spec: ModelSpec) -> MLP:
        p, t = self.profile, time.perf_counter()
        if spec.adv is None:
            net = MLP(spec.sizes, list(spec.caps), seed=spec.seed, backend=self.backend)
            h = train(net, self.x, self.y, epochs=p.epochs, batch_size=p.batch_size,
                      lr=paper.SECTION8["lr"], seed=spec.seed, label=spec.name)
        else:
            self.model(spec.base)  # trained and saved once, shared with the clean experiments
            net = MLP.load(self.path(spec.base), self.backend)  # a private copy to fine-tune
            hook = adversarial_hook(spec.adv, spec.adv_eps, spec.seed, **ADV_PGD,
                                    surrogate=spec.adv_surrogate)
            h = train(net, self.x, self.y, epochs=p.adv_epochs, batch_size=p.batch_size,
                      lr=paper.SECTION8["lr"], seed=spec.seed + 1, batch_hook=hook,
                      label=spec.name)
        log(f"trained {spec.name} in {time.perf_counter() - t:.1f} s")
        net.save(self.path(spec), config=self.config(spec), history=h.as_dict())
        return net


def _read_shared(path: Path, config: dict):
    """The array stored at ``path`` by :meth:`ModelStore.shared` for ``config``; None when the
    file is missing, unreadable or made with another config."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if json.loads(str(npz["config"])) != config:
                log(f"recomputing {path.name}: it was made with other settings")
                return None
            return npz["array"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        log(f"recomputing {path.name}: not readable ({type(exc).__name__}: {exc})")
        return None
