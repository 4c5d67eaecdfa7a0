"""The top layer: the ``xorsweep`` command line (:mod:`xorsweep.cli`) and its web app.

It sits above the three libraries and uses their public APIs: ``sweeps`` to run
and read sweeps, ``analysis`` to write reports, ``kernels`` for its version and
errors.  :mod:`xorsweep.server` (``xorsweep serve``) reads runs through the store's
verified readers and draws the report's tables and figures.  Nothing below imports
either.
"""
