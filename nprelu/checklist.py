r"""Computed sanity checks of a robustness evaluation, after Carlini et al. 2019, "On evaluating
adversarial robustness" (Section 5 and the checklist of its Appendix).

A network whose input gradient vanishes (a capped ReLU layer with every unit at or above its cap
passes no gradient back, Section 6 of Sooksatra et al.) looks robust to gradient attacks without
being robust. Each check below compares numbers that must be ordered in a certain way if the
white-box attack works, and warns when they are not:

- ``pgd_more_steps``: PGD robust accuracy at more steps (10, 100, 1000 by default) must not be
  higher than at fewer steps: acc(s_j) <= min_{i < j} acc(s_i) + 1/N (one sample of slack).
- ``eps_growth``: robust accuracy must fall as eps grows and must reach 0 (100% success) at some
  eps of an increasing list: at eps = 1 every image of [0, 1]^d is reachable, so an attack that
  still fails there is stuck, not facing a robust model. Accuracy rising with eps by more than
  one sample is also flagged.
- ``single_vs_iterative``: FGSM (one step) must not beat PGD (many steps) at the same eps:
  acc_FGSM >= acc_PGD - 1/N, with acc_PGD the lowest of the ``pgd_more_steps`` runs.
- ``black_vs_white``: Square Attack (logits only) must not beat PGD (gradients):
  acc_Square >= acc_PGD - 1/N.
- ``bpda_vs_white`` (networks with a cap only): PGD on the straight-through (BPDA) gradient
  must not beat PGD on the true one: acc_BPDA >= acc_PGD - 1/N.
- ``zero_gradients``: the fraction of inputs whose cross-entropy gradient is exactly zero must
  not exceed a small threshold (1% by default).

A transfer attack from the uncapped twin (:mod:`nprelu.attacks.transfer`) is judged by the same
comparison, :func:`check_not_stronger`.

Every check is a pure function of numbers, returning a :class:`Check`;
:func:`run_checklist` computes the numbers by running the attacks.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .attacks import bpda_pgd, fgsm, pgd, square_linf
from .measures import robust_accuracy, zero_gradient_fraction
from .progress import Quiet


@dataclass
class Check:
    """One check: ``passed``; ``warning`` says what is wrong (None when passed); ``numbers``
    holds what was compared (JSON-able)."""

    name: str
    passed: bool
    warning: str | None = None
    numbers: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _count(acc, n) -> int:
    """A robust accuracy back to a number of samples (accuracies are k / n)."""
    return int(round(acc * n))


def check_steps(steps, accuracies, n) -> Check:
    """PGD robust accuracy must not rise with more steps (one sample of slack)."""
    steps, accuracies = [int(s) for s in steps], [float(a) for a in accuracies]
    numbers = {"steps": steps, "robust_accuracy": accuracies, "n": int(n)}
    for j in range(1, len(steps)):
        best = min(range(j), key=lambda i: accuracies[i])
        if _count(accuracies[j], n) > _count(accuracies[best], n) + 1:
            return Check("pgd_more_steps", False,
                         f"robust accuracy {accuracies[j]:.4f} after {steps[j]} steps is above "
                         f"{accuracies[best]:.4f} after {steps[best]}: PGD is not converging "
                         "(oscillating or masked gradients)", numbers)
    return Check("pgd_more_steps", True, None, numbers)


def check_eps_growth(eps_list, accuracies, n) -> Check:
    """Robust accuracy must not rise with eps (one sample of slack) and must reach 0."""
    eps_list, accuracies = [float(e) for e in eps_list], [float(a) for a in accuracies]
    numbers = {"eps": eps_list, "robust_accuracy": accuracies, "n": int(n)}
    problems = []
    for j in range(1, len(eps_list)):
        if _count(accuracies[j], n) > _count(accuracies[j - 1], n) + 1:
            problems.append(f"robust accuracy rises from {accuracies[j - 1]:.4f} at eps "
                            f"{eps_list[j - 1]:g} to {accuracies[j]:.4f} at eps {eps_list[j]:g}")
    if not any(_count(a, n) == 0 for a in accuracies):
        problems.append(f"robust accuracy never reaches 0 (still {accuracies[-1]:.4f} at eps "
                        f"{eps_list[-1]:g}): the attack cannot move the prediction even with a "
                        "huge budget, a sign of masked gradients")
    if problems:
        return Check("eps_growth", False, "; ".join(problems), numbers)
    return Check("eps_growth", True, None, numbers)


def check_not_stronger(name, attack, attack_acc, white_acc, n, white="PGD") -> Check:
    """A weaker or indirect ``attack`` must not beat the white-box one: attack_acc >= white_acc
    - 1/N. If it does, the white-box attack was hampered (masked or obfuscated gradients)."""
    attack_acc, white_acc = float(attack_acc), float(white_acc)
    numbers = {"attack": attack, "robust_accuracy": attack_acc, "white_box": white,
               "white_box_robust_accuracy": white_acc, "n": int(n)}
    if _count(attack_acc, n) < _count(white_acc, n) - 1:
        return Check(name, False, f"{attack} (robust accuracy {attack_acc:.4f}) beats white-box "
                     f"{white} ({white_acc:.4f}): the white-box attack is hampered, suspect "
                     "gradient masking", numbers)
    return Check(name, True, None, numbers)


def check_single_vs_iterative(fgsm_acc, pgd_acc, n) -> Check:
    return check_not_stronger("single_vs_iterative", "FGSM", fgsm_acc, pgd_acc, n)


def check_black_vs_white(square_acc, pgd_acc, n) -> Check:
    return check_not_stronger("black_vs_white", "Square", square_acc, pgd_acc, n)


def check_bpda(bpda_acc, pgd_acc, n) -> Check:
    return check_not_stronger("bpda_vs_white", "BPDA-PGD", bpda_acc, pgd_acc, n)


def check_zero_gradients(fraction, threshold=0.01) -> Check:
    """At most ``threshold`` of the inputs may have an exactly zero loss gradient."""
    fraction, threshold = float(fraction), float(threshold)
    numbers = {"zero_gradient_fraction": fraction, "threshold": threshold}
    if fraction > threshold:
        return Check("zero_gradients", False,
                     f"{100 * fraction:.1f}% of the inputs have an exactly zero loss gradient "
                     f"(threshold {100 * threshold:g}%): gradient attacks cannot start there",
                     numbers)
    return Check("zero_gradients", True, None, numbers)


def run_checklist(net, x, y, eps, *, step=None, steps=(10, 100, 1000),
                  eps_list=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0), eps_steps=100, n_queries=1000,
                  p_init=0.05, bpda_steps=100, zero_threshold=0.01, seed=0, batch_size=10000,
                  progress=None) -> list:
    """Run the attacks on ``x`` (N, d), ``y`` (N,) and return the list of :class:`Check`.

    ``eps``: the radius under evaluation (pixel units of [0, 1]).
    ``steps``: PGD step counts for ``pgd_more_steps``, all with the same ``step`` (default
    2.5 eps / min(steps), Madry et al.'s rule for the shortest run) from the clean input;
    the lowest robust accuracy among them is the white-box reference of the other checks.
    ``eps_list``, ``eps_steps``: the radii of ``eps_growth``, each attacked with PGD of
    ``eps_steps`` steps of 2.5 e / eps_steps, stopping a sample once it is misclassified.
    ``n_queries``, ``p_init``, ``seed``: Square Attack at ``eps`` (``n_queries=None`` skips
    it; it needs square images, d = h^2).
    ``bpda_steps``: steps of BPDA-PGD (relu surrogate, step as ``steps``) at ``eps``; skipped
    for a network without caps, or when None.
    ``zero_threshold``: the largest acceptable zero-gradient fraction.
    ``progress``: a :class:`~nprelu.progress.Progress` told after each attack (default quiet).

    Cost per sample: sum(steps) + len(eps_list) * eps_steps + bpda_steps + 2 backward passes,
    about as many forward passes plus len(eps_list) * eps_steps more (early stopping) and at
    most n_queries + 1 for Square.
    """
    be = net.backend
    x, y = be.asarray(x), be.xp.asarray(y)
    n, eps = len(x), float(eps)
    steps = sorted(int(s) for s in steps)
    step = 2.5 * eps / steps[0] if step is None else float(step)
    capped = any(c is not None for c in net.caps)
    do_bpda = capped and bpda_steps is not None
    progress = progress or Quiet("checklist", len(steps) + len(eps_list) + 2
                                 + (n_queries is not None) + do_bpda)

    pgd_accs = []
    for s in steps:
        pgd_accs.append(robust_accuracy(net, pgd(net, x, y, eps, step, s, batch_size=batch_size),
                                        y))
        progress.update(1, f"PGD-{s}")
    white = min(pgd_accs)
    records = [check_steps(steps, pgd_accs, n)]

    eps_accs = []
    for e in eps_list:
        e = float(e)
        adv = pgd(net, x, y, e, 2.5 * e / eps_steps, eps_steps, early_stop=True,
                  batch_size=batch_size)
        eps_accs.append(robust_accuracy(net, adv, y))
        progress.update(1, f"PGD eps={e:g}")
    records.append(check_eps_growth(eps_list, eps_accs, n))

    records.append(check_single_vs_iterative(
        robust_accuracy(net, fgsm(net, x, y, eps, batch_size=batch_size), y), white, n))
    progress.update(1, "FGSM")

    if n_queries is not None:
        square = square_linf(net, x, y, eps, n_queries=n_queries, p_init=p_init, seed=seed,
                             batch_size=batch_size)
        records.append(check_black_vs_white(robust_accuracy(net, square.x_adv, y), white, n))
        progress.update(1, "Square")

    if do_bpda:
        adv = bpda_pgd(net, x, y, eps, step, bpda_steps, batch_size=batch_size)
        records.append(check_bpda(robust_accuracy(net, adv, y), white, n))
        progress.update(1, "BPDA-PGD")

    records.append(check_zero_gradients(zero_gradient_fraction(net, x, y), zero_threshold))
    progress.update(1, "zero gradients")
    return records


def format_checklist(records) -> list:
    """One line per check: ``PASS name`` or ``WARN name: warning``."""
    return [f"PASS {r.name}" if r.passed else f"WARN {r.name}: {r.warning}" for r in records]
