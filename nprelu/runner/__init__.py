"""The runner: how experiments are run, not what they compute.

``config`` (the profiles), ``context`` (a seed's test subsets and networks), ``store`` (each
network trained once, reloaded from its checkpoint), ``units`` (an experiment in units of work
and their files), ``jobs`` (the units in order, recorded as they finish), ``workers`` (a process
pool whose workers die with their parent), ``cluster`` (the same units on Dask distributed),
``summary`` (``summary.json``, resumable and atomic), ``schema`` (its blocks' shapes),
``aggregate`` (means and bounded intervals over seeds). The science lives in
:mod:`nprelu.experiments`, one module per paper section or study, and imports from here; the
runner never imports it (:data:`workers.REGISTRY` names the registry it runs).
"""
