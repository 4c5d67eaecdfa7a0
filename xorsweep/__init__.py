"""The top layer: the ``xorsweep`` command line (:mod:`xorsweep.cli`).

It sits above the three libraries and uses their public APIs: ``sweeps`` to run
and read sweeps, ``analysis`` to write reports, ``kernels`` for its version and
errors.  Nothing below imports it.
"""
