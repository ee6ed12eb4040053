"""Shared test settings: hypothesis profiles and the backend fixture (NumPy always, CuPy if usable)."""
import os

import pytest
from hypothesis import HealthCheck, settings

from nprelu.backend import cupy_available, get_backend

settings.register_profile("ci", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=10,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKEND_PARAMS = [
    "numpy",
    pytest.param("cupy", marks=pytest.mark.skipif(not cupy_available(),
                                                  reason="CuPy or a GPU is not available")),
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    """Each backend-taking test runs under NumPy, and under CuPy when a GPU is present."""
    return get_backend(request.param)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST files from $NPRELU_DATA; skipped without it, except under CI where it must run."""
    from nprelu.data import load_mnist
    if not os.environ.get("NPRELU_DATA"):
        if os.environ.get("CI"):
            pytest.fail("CI must set NPRELU_DATA to the MNIST directory (../shared/mnist)")
        pytest.skip("NPRELU_DATA is not set")
    return load_mnist()


@pytest.fixture(scope="module")
def summary():
    """A synthetic summary with every block of the registry over 3 seeds, in the designed
    layout (``runs``, mean blocks, ``intervals``; tests/summary_helpers.py). The older
    single-seed layout: ``make_summary()``."""
    from summary_helpers import make_summary
    return make_summary(seeds=3)
