"""MNIST for a benchmark script, or the one-line error ``run_all.py`` would give, and its status.

A directory given by ``$NPRELU_DATA`` that is empty, missing, or lacks or holds a bad file exits
2 (fix the setting); a failed download into the cache exits 1 (fix the network, or set
``NPRELU_DATA``), as in ``run_all.py``.
"""
from __future__ import annotations

import os
import sys

from nprelu.data import DataError, data_given, load_mnist


def load_mnist_or_exit(script: str):
    """``load_mnist()``, or ``SCRIPT: error: ...`` in one line on stderr and exit 2 or 1."""
    try:
        return load_mnist()
    except DataError as exc:
        message = " ".join(str(exc).split())   # a failed download lists its mirrors on lines
        print(f"{os.path.basename(script)}: error: {message}", file=sys.stderr)
        sys.exit(2 if data_given() else 1)
