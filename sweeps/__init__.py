"""The sweep service: specs, expansion, chunked execution, the results store, the CLI.

>>> import sweeps
>>> spec = sweeps.load_spec("quickstart")            # a bundled spec, a TOML path or a dict
>>> run = sweeps.run(spec, out="runs", jobs=2)       # resumes if interrupted
>>> df = run.networks()                              # one row per network
"""

from __future__ import annotations

from .runner import run
from .spec import AXES, Spec, SpecError, bundled_specs, load_spec
from .store import Run, RunError, open_run

__all__ = ["AXES", "Run", "RunError", "Spec", "SpecError", "bundled_specs", "load_spec",
           "open_run", "run"]
