"""A sweep in a few lines of Python: learning rate x momentum on XOR, then a table."""

from __future__ import annotations

import sweeps

spec = sweeps.load_spec({
    "name": "lr-x-momentum",
    "epochs": 1000,
    "replicates": 50,
    "grid": {"lr": {"logspace": [-1, 1, 5]}, "momentum": [0.0, 0.5, 0.9]},
})
run = sweeps.run(spec, out="runs", jobs=2)
df = run.networks()
table = (df.assign(converged=df.converged_epoch >= 0)
           .pivot_table(index="lr", columns="momentum", values="converged", aggfunc="mean"))
print("fraction converged (rows: lr, columns: momentum)")
print(table.round(2).to_string())
