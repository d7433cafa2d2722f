"""Helpers that drive real programs, shared by the test suite and by `bench/`.

Not shipped in the wheel: tests run from the repository root and the benchmarks put the root
on `sys.path`, so both import `testsupport` from the checkout.
"""
