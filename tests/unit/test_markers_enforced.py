"""The rule of tests/support/markers.py: a test without the marker of its folder, or outside the
three folders, fails the collection (it would otherwise run in the wrong suite, or unguarded)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PLUGIN = Path(__file__).resolve().parents[1] / "support" / "markers.py"
MARKERS = "[pytest]\nmarkers =\n    unit: u\n    integration: i\n    e2e: e\n"


def run(pytester: pytest.Pytester, files: dict[str, str]) -> pytest.RunResult:
    """Collect `files` in a fresh pytest process whose conftest is the rule itself (in-process
    runs would report into the pytest-xdist worker running this test)."""
    pytester.makefile(".ini", pytest=MARKERS)
    pytester.makeconftest(PLUGIN.read_text())
    for name, body in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")


def test_a_test_marked_like_its_folder_is_collected(pytester: pytest.Pytester) -> None:
    result = run(pytester, {"tests/unit/test_a.py": "import pytest\n@pytest.mark.unit\ndef test_a(): pass\n"})
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_a.py::test_a*"])


def test_an_unmarked_test_fails_the_collection(pytester: pytest.Pytester) -> None:
    result = run(pytester, {"tests/integration/test_b.py": "def test_b(): pass\n"})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_b.py::test_b: marked nothing; a test in tests/integration is*"])


def test_a_marker_other_than_the_folders_fails_the_collection(pytester: pytest.Pytester) -> None:
    body = "import pytest\npytestmark = pytest.mark.integration\ndef test_c(): pass\n"
    result = run(pytester, {"tests/unit/test_c.py": body})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_c.py::test_c: marked integration; a test in tests/unit*"])


def test_a_test_outside_the_three_folders_fails_the_collection(pytester: pytest.Pytester) -> None:
    result = run(pytester, {"tests/test_d.py": "import pytest\n@pytest.mark.unit\ndef test_d(): pass\n"})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_d.py::test_d: tests live in tests/unit, tests/integration or*"])
