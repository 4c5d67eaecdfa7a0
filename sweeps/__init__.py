"""The sweep service: specs, expansion, chunked execution, the results store.

>>> import sweeps
>>> spec = sweeps.load_spec("quickstart")            # a bundled spec, a TOML path or a dict
>>> run = sweeps.run(spec, out="runs", jobs=2)       # resumes if interrupted
>>> df = run.networks()                              # one row per network

Names are imported on first use, so reading a store (``sweeps.store``) needs
neither numba nor the kernels: a run copied to another machine can be analysed there.
"""

from __future__ import annotations

import importlib

__all__ = ["AXES", "Run", "RunError", "Spec", "SpecError", "bundled_specs", "dry_run",
           "load_spec", "open_run", "run", "zoom_spec"]

_WHERE = {"run": "runner", "dry_run": "runner", "AXES": "spec", "Spec": "spec", "SpecError": "spec",
          "bundled_specs": "spec", "load_spec": "spec", "Run": "store", "RunError": "store",
          "open_run": "store", "zoom_spec": "zoom"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
