"""What every experiment shares: the profile, the data, the model store and the summary.

A model is described by a :class:`ModelSpec` (architecture, training caps, epochs, seed and, for
Table 1, adversarial fine-tuning). The store trains each spec once per output directory and
saves it to ``DIR/models/NAME.npz`` with the full configuration in the checkpoint's ``meta``; a
later run (or a later experiment in the same run) loads it if, and only if, that configuration
matches. A corrupt file, or one trained under other settings, is retrained, not reused.

``summary.json`` holds each finished experiment's numbers and is rewritten atomically after
each one, so an interrupted run resumes at the first unfinished experiment.
"""
from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..checkpoint import CheckpointError, atomic_write_bytes
from ..network import MLP
from ..progress import log
from ..train import train

GENERAL = (784, 392, 196, 10)
REVERSED = (784, 196, 392, 10)
EQUAL = (784, 784, 784, 10)
DEEP = (784, 392, 196, 98, 10)
EVAL_BETAS = tuple(round(0.01 * k, 2) for k in range(1, 16))  # 0.01, 0.02, ..., 0.15


@dataclass(frozen=True)
class Profile:
    """How much of the paper's work to do. Every subset is the first N test images (fixed)."""

    name: str
    train_subset: int | None      # training images used (None: all 60,000)
    epochs: int                   # clean training epochs (paper: 20)
    adv_epochs: int               # adversarial fine-tuning epochs (paper: 10)
    batch_size: int
    n_growth: int | None          # Figs 1-2 test images
    n_sweep: int | None           # Figs 4-6 test images
    n_zero: int | None            # Figs 8-10 test images
    zero_max_steps: int           # zero-gradient PGD step cap
    n_sensitivity: int | None     # Fig 11 mean over test images
    n_table: int | None           # Table 1 clean/FGSM/PGD test images
    n_cw: int | None              # Table 1 CW-L2 test images
    cw_max_iter: int              # paper: 10,000
    cw_search_steps: int          # paper: 9

    def describe_subsets(self) -> dict:
        def n(k):
            return "all 10,000 test images" if k is None else f"the first {k} test images"
        return {
            "training": "all 60,000 training images" if self.train_subset is None
            else f"the first {self.train_subset} training images",
            "fig01-02": n(self.n_growth), "fig04-06": n(self.n_sweep), "fig08-10": n(self.n_zero),
            "fig11": n(self.n_sensitivity), "table1 clean/FGSM/PGD": n(self.n_table),
            "table1 CW-L2": n(self.n_cw),
        }


PROFILES = {
    "quick": Profile("quick", train_subset=3000, epochs=2, adv_epochs=1, batch_size=128,
                     n_growth=500, n_sweep=300, n_zero=50, zero_max_steps=100, n_sensitivity=200,
                     n_table=500, n_cw=20, cw_max_iter=200, cw_search_steps=6),
    "paper": Profile("paper", train_subset=None, epochs=20, adv_epochs=10, batch_size=128,
                     n_growth=None, n_sweep=None, n_zero=1000, zero_max_steps=200,
                     n_sensitivity=None, n_table=None, n_cw=200, cw_max_iter=10_000,
                     cw_search_steps=9),
}
PROFILES["full"] = replace(PROFILES["paper"], name="full", n_zero=None, n_cw=None)


@dataclass(frozen=True)
class ModelSpec:
    """A network to train: ``caps`` are the training caps; ``adv`` is None, 'fgsm' or 'pgd'."""

    sizes: tuple
    caps: tuple
    seed: int = 0
    adv: str | None = None
    adv_eps: float = 0.1

    @property
    def name(self) -> str:
        caps = "-".join("none" if c is None else format(c, "g") for c in self.caps)
        arch = "-".join(str(s) for s in self.sizes[1:-1])
        adv = f"_{self.adv}{format(self.adv_eps, 'g')}" if self.adv else ""
        return f"{arch}_cap{caps}{adv}_s{self.seed}"

    @property
    def base(self) -> "ModelSpec":
        """The clean-trained model an adversarially trained one starts from."""
        return replace(self, adv=None)


@dataclass
class Context:
    out: Path
    profile: Profile
    backend: object
    seed: int
    data: tuple                   # (x_train, y_train, x_test, y_test) on the device
    summary: dict = field(default_factory=dict)
    trained: dict = field(default_factory=dict)

    # ---- data -------------------------------------------------------------------------------
    def test(self, n):
        """The first ``n`` test images and labels (all when ``n`` is None)."""
        _, _, x, y = self.data
        return (x, y) if n is None else (x[:n], y[:n])

    # ---- models -----------------------------------------------------------------------------
    def config(self, spec: ModelSpec) -> dict:
        p = self.profile
        cfg = {"spec": asdict(spec), "train_subset": p.train_subset, "epochs": p.epochs,
               "batch_size": p.batch_size, "lr": 1e-3}
        if spec.adv:
            cfg.update(adv_epochs=p.adv_epochs, adv_step=ADV_PGD["step"], adv_steps=ADV_PGD["steps"])
        return json.loads(json.dumps(cfg))  # tuples -> lists, as they come back from JSON

    def model(self, spec: ModelSpec) -> MLP:
        """The trained network for ``spec``: from memory, from a matching checkpoint, or trained now."""
        if spec in self.trained:
            return self.trained[spec]
        path = self.out / "models" / f"{spec.name}.npz"
        cfg = self.config(spec)
        net = None
        if path.exists():
            try:
                net = MLP.load(path, self.backend)
                if net.meta.get("config") != cfg:
                    log(f"retraining {spec.name}: its checkpoint was trained with other settings")
                    net = None
            except CheckpointError as exc:
                log(f"retraining {spec.name}: {exc}")
                net = None
        if net is None:
            net = self._train(spec)
            net.save(path, config=cfg, history=net.history)
        self.trained[spec] = net
        return net

    def _train(self, spec: ModelSpec) -> MLP:
        x, y, _, _ = self.data
        if self.profile.train_subset is not None:
            x, y = x[:self.profile.train_subset], y[:self.profile.train_subset]
        t = time.perf_counter()
        if spec.adv is None:
            net = MLP(spec.sizes, list(spec.caps), seed=spec.seed, backend=self.backend)
            h = train(net, x, y, epochs=self.profile.epochs, batch_size=self.profile.batch_size,
                      seed=spec.seed, label=spec.name)
        else:
            self.model(spec.base)  # trained and saved once, shared with the clean experiments
            net = MLP.load(self.out / "models" / f"{spec.base.name}.npz", self.backend)  # a private copy
            h = train(net, x, y, epochs=self.profile.adv_epochs, batch_size=self.profile.batch_size,
                      seed=spec.seed + 1, batch_hook=adversarial_hook(spec), label=spec.name)
        net.history = h.as_dict()
        log(f"trained {spec.name} in {time.perf_counter() - t:.1f} s")
        return net

    # ---- summary ----------------------------------------------------------------------------
    def record(self, name: str, numbers: dict, settings, wall_seconds: float) -> None:
        """Add the finished experiment ``name`` to ``summary.json``, merged with what is on disk.

        Two runs with disjoint ``--only`` lists may share one output directory (one per core):
        each re-reads ``summary.json`` under a lock and adds its own experiment to it, so neither
        overwrites the other's. A summary on disk from other settings is not merged.
        """
        with _lock(self.out / ".summary.lock"):
            self._merge_from_disk()
            meta = self.summary["meta"]
            self.summary.update(numbers)
            meta["settings"][name] = settings
            meta["wall_seconds"][name] = round(wall_seconds, 1)
            if name not in meta["done"]:
                meta["done"].append(name)
            self.save_summary()

    def refresh(self) -> None:
        """Merge into this run's summary what other runs have added to ``summary.json``."""
        with _lock(self.out / ".summary.lock"):
            self._merge_from_disk()

    def _merge_from_disk(self) -> None:
        path = self.out / "summary.json"
        if not path.exists():
            return
        disk = json.loads(path.read_text())
        mine, theirs = self.summary["meta"], disk.get("meta", {})
        if not same_run(theirs, mine):
            return
        for key, value in disk.items():
            if key != "meta":
                self.summary.setdefault(key, value)   # numbers this run computed itself win
        for part in ("settings", "wall_seconds"):
            mine[part] = {**theirs.get(part, {}), **mine[part]}
        mine["done"] = list(dict.fromkeys(theirs.get("done", []) + mine["done"]))

    def save_summary(self) -> None:
        text = json.dumps(self.summary, indent=1, sort_keys=True, allow_nan=False, default=_json_default)
        atomic_write_bytes(self.out / "summary.json", text.encode())


RUN_KEYS = ("profile", "seed", "profile_settings")


def same_run(meta_a: dict, meta_b: dict) -> bool:
    """Whether two summaries' ``meta`` describe the same run (profile, seed and its settings),
    so that their numbers may be combined."""
    return all(meta_a.get(k) == meta_b.get(k) for k in RUN_KEYS)


@contextmanager
def _lock(path: Path):
    """An exclusive advisory lock on ``path`` (created if missing), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")


# Table 1's adversarial training: eps 0.1 (paper); PGD with the paper's evaluation step and count.
ADV_PGD = {"step": 0.01, "steps": 10}


def adversarial_hook(spec: ModelSpec):
    """A training ``batch_hook`` that replaces each batch by its FGSM or PGD examples (Madry et al.).

    The paper does not say whether clean and adversarial examples are mixed; we train on the
    adversarial examples alone, made against the current weights, as Madry et al. do. PGD starts
    at a random point of the eps-ball, as in Madry et al.'s training.
    """
    from ..attacks import fgsm, pgd

    counter = [0]

    def hook(net, xb, yb):
        counter[0] += 1
        if spec.adv == "fgsm":
            return fgsm(net, xb, yb, eps=spec.adv_eps)
        if spec.adv == "pgd":
            return pgd(net, xb, yb, eps=spec.adv_eps, step=ADV_PGD["step"], steps=ADV_PGD["steps"],
                       random_start=True, seed=spec.seed * 1_000_003 + counter[0])
        raise ValueError(f"unknown adversarial training {spec.adv!r}: use 'fgsm' or 'pgd'")

    return hook


def beta_key(beta) -> str:
    """The summary's key for a cap value (``format(beta, 'g')``; 'none' for plain ReLU)."""
    return "none" if beta is None else format(beta, "g")
