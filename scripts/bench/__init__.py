"""The benchmark suite behind ``scripts/benchmark.py``: one module per row, shared helpers in ``common``.

Every comparison is measured side by side in one process run: the compared things
alternate (``common.alternate``) and each is repeated, and the rows report medians.
Nothing here imports TensorFlow at module level, so the helpers can be tested quickly.
"""
