"""Convergence stress suite (issue 14, item 3): seeded random small designs fitted and held against
a brute-force optimum.

Run the default tier with ``python -m pytest tests/stress``, the slow tier (thousands of designs,
and the default ones with a thorough search) with ``-m slow``; ``python -m tests.stress.report``
writes the list of failures as Markdown (see `tests.stress.report`).
"""
