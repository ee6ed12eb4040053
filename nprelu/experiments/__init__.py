"""One module per paper section; each ``run(ctx)`` returns ``(numbers, settings)``.

``EXPERIMENTS`` lists them in the order ``run_all.py`` runs them, by summary key. Models are
shared through :class:`~nprelu.experiments.context.Context`: Figures 4, 8 and 11 and Table 1 all
reuse the general network capped at HL2, for example.
"""
from . import adaptive, growth, sensitivity, sigmoid, sweeps, table1, zero_gradient
from .context import PROFILES, Context, ModelSpec, Profile

EXPERIMENTS = {
    "fig01-02": (growth.run, growth.models),
    "fig03": (sigmoid.run, sigmoid.models),
    "fig04": (sweeps.runner("fig04"), sweeps.models),
    "fig05": (sweeps.runner("fig05"), lambda seed: iter(())),
    "fig06": (sweeps.runner("fig06"), lambda seed: iter(())),
    "fig08": (zero_gradient.runner("fig08"), zero_gradient.models),
    "fig09": (zero_gradient.runner("fig09"), zero_gradient.models),
    "fig10": (zero_gradient.runner("fig10"), zero_gradient.models),
    "fig11": (sensitivity.run, sensitivity.models),
    "table1": (table1.run, table1.models),
    "adaptive": (adaptive.run, adaptive.models),   # beyond the paper: gradient masking
}

__all__ = ["EXPERIMENTS", "PROFILES", "Context", "ModelSpec", "Profile", "table1"]
