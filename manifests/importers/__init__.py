"""Corpus importers: each module turns one corpus layout into entries, ``convert`` writes the manifest."""

from werbench.manifests.importers import (
    an4,
    commonvoice,
    deepspeech,
    deepspeech_pytorch,
    kaldi,
    librispeech,
    trn,
    wsj,
)
from werbench.manifests.importers.base import IMPORTERS, Entry, Importer, ImportOptions
from werbench.manifests.importers.convert import ImportSummary, import_corpus

__all__ = [
    "IMPORTERS",
    "Entry",
    "ImportOptions",
    "ImportSummary",
    "Importer",
    "an4",
    "commonvoice",
    "deepspeech",
    "deepspeech_pytorch",
    "import_corpus",
    "kaldi",
    "librispeech",
    "trn",
    "wsj",
]
