#!/usr/bin/python3
"""Runs the integration tests (test/integration/test_*.py) and ends with the
line "integration: N passed, N failed". Each test class starts its own
throwaway cluster through harness.py."""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
print(f"integration: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
