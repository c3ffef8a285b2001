"""Benchmarks, run from the repository root as `python -m bench.<name>` (scripts/gates.sh bench runs them all)."""
