r"""Transfer attack: craft on a source network, evaluate on a target (Papernot et al. 2016;
Carlini et al. 2019, "On evaluating adversarial robustness", Section 5).

For the capped networks of this package the natural source is the target's uncapped twin, the
same weights with the caps removed (``net.with_caps([None] * len(net.caps))``): its gradient is
the target's wherever no unit sits at or above its cap, and it never vanishes because of a cap.
If examples crafted on the twin fool the capped network more often than white-box attacks on
the capped network itself, the white-box attack was hampered by masked gradients.
"""
from __future__ import annotations

from ._common import prepare


def transfer(source_net, target_net, x, y, attack):
    """``x_adv = attack(source_net, x, y)``, checked to fit ``target_net``; evaluate it there.

    ``attack(net, x, y) -> x_adv`` is any attack with its settings bound, e.g.
    ``functools.partial(pgd, eps=0.1, step=0.01, steps=10)``; if it returns a result object,
    its ``x_adv`` field is taken. The two networks must have the same input size and classes.
    Cost: that of ``attack`` on the source network; nothing runs on the target.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`) and
    ``attack`` is callable; ``attack`` checks its own settings.
    """
    if not callable(attack):
        raise ValueError(f"attack must be a callable attack(net, x, y) -> x_adv, got {attack!r}")
    if source_net.sizes[0] != target_net.sizes[0] or source_net.sizes[-1] != target_net.sizes[-1]:
        raise ValueError(f"source {source_net.sizes} and target {target_net.sizes} networks differ "
                         "in input size or number of classes")
    x, y, _ = prepare(source_net, x, y)
    out = attack(source_net, x, y)
    x_adv = getattr(out, "x_adv", out)
    return target_net.backend.asarray(target_net.backend.to_host(x_adv))
