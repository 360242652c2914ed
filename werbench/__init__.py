"""werbench: WER error analysis and benchmark dashboard for ASR.

The Python API, all of it (``werbench.api``; pandas, numba and Dash load on first call):

- ``score(refs, hyps, normalize=None, costs="sclite") -> Scores``: texts, dicts, pandas objects or files
- ``load(results_dir | reference, *hypothesis_files) -> Results``: ``.systems``, ``.utterances``, ``.summary``
- ``compare(results, a, b) -> Comparison``: the paired tests of ``werbench compare``
- ``gate(results, baseline, candidate) -> GateResult``: the CI regression gate of ``werbench gate``
- ``align(ref, hyp) -> Alignment``: the sclite-identical aligner; ``.ops``, ``.counts``, ``.pairs()``
- ``show(results)``: the dashboard, inline in Jupyter or in the browser
"""

from werbench._version import __version__
from werbench.api import Results, Scores, align, compare, gate, load, score, show

__all__ = ["Results", "Scores", "__version__", "align", "compare", "gate", "load", "score", "show"]
