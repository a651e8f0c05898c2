#!/usr/bin/env python3
"""Sums Meson's JUnit logs into one line: "tests: N passed, N failed".

Each GoogleTest case counts once (Meson expands them with protocol 'gtest');
each other test counts once. Skipped tests are reported apart. Exits 1 when
anything failed or a log is missing."""
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
missing = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        missing.append(path)
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
for path in missing:
    print(f"count_tests: no test log {path} (build or test run failed)", file=sys.stderr)
    failed += 1
line = f"tests: {passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
