"""Cache keys follow the code: an edited source file or another package version is another key."""

from __future__ import annotations

from pathlib import Path

import pytest
from werbench.aligner import align
from werbench.analysis import cache, table_cache
from werbench.manifests import code_version as code_version_module
from werbench.manifests.code_version import code_version
from werbench.manifests.errors import ConfigError
from werbench.runners import logits_cache


@pytest.fixture(autouse=True)
def fresh_keys():
    """Keys are computed once per process; each test starts and ends without memoised ones."""
    code_version.cache_clear()
    yield
    code_version.cache_clear()


@pytest.fixture
def aligner_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the aligner as a package of its own, importable by name."""
    package = tmp_path / "aligner_copy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "align.py").write_bytes(Path(align.__file__).read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_editing_a_source_file_changes_the_key(aligner_copy: Path) -> None:
    module, whole = ("aligner_copy.align",), ("aligner_copy",)
    before, before_package = code_version(module, ("numba",)), code_version(whole)
    assert code_version(module, ("numba",)) == before
    source = aligner_copy / "align.py"
    source.write_text(source.read_text().replace("MAX_CELLS = 400_000_000", "MAX_CELLS = 300_000_000"))
    assert code_version(module, ("numba",)) == before  # once per process: a running server keeps its key
    code_version.cache_clear()
    assert code_version(module, ("numba",)) != before
    assert code_version(whole) != before_package  # a package is keyed on every file below it
    (aligner_copy / "extra.py").write_text("X = 1\n")
    code_version.cache_clear()
    assert len({before_package, code_version(whole), code_version(module, ("numba",))}) == 3


def test_another_package_version_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = code_version(("werbench.aligner.align",), ("numba",))
    assert code_version_module.package_stamp("no-such-distribution-xyz").endswith("-absent")
    monkeypatch.setattr(code_version_module.metadata, "version", lambda distribution: "0.0.1")
    code_version.cache_clear()
    assert code_version(("werbench.aligner.align",), ("numba",)) != before
    assert code_version_module.package_stamp("numba") == "numba-0.0.1"


def test_every_cache_is_keyed_on_its_code(aligner_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alignment, table and logits caches all take their code key from ``code_version``."""
    texts = (["the cat sat"], ["the cat sat down"], "nemo@1", "sclite", True)
    key = cache.batch_key(*texts)
    monkeypatch.setattr(cache, "ALIGNMENT_CODE", (("aligner_copy.align",), ("numba",)))
    assert cache.batch_key(*texts) != key
    for names in (table_cache.TABLES_CODE, logits_cache.LOGITS_CODE, cache.ALIGNMENT_CODE):
        assert code_version(*names)  # every module named exists (a renamed one would be an error)
    with pytest.raises(ConfigError, match="no such module"):
        code_version(("werbench.analysis.no_such_module",))
