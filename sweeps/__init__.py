"""The sweep service: specs, expansion, chunked execution, the results store, the CLI.

Only the command-line entry point exists so far; see ``DESIGN.md`` for what is coming.
"""
