"""bench/extraction.py --identity: webtune's fast trafilatura path against plain trafilatura."""

from __future__ import annotations

from tests.bench.helpers import load_bench
from tests.clean.extraction_pages import PAGES


def test_identity_counts_pages_and_differences_per_mode(monkeypatch):
    bench = load_bench("extraction")
    pages = list(PAGES.values())[:6]
    result = bench.identity(pages)
    assert set(result) == set(bench.IDENTITY_CONFIGS)
    for n, differ, plain_cpu, fast_cpu in result.values():
        assert n == len(pages) and differ == 0 and plain_cpu > 0 and fast_cpu > 0

    # a fast path that changed the text would be counted
    from webtune.clean import fast_trafilatura

    class PrunesOneParagraphMore:
        def __init__(self, original):
            self.original = original

        def __call__(self, tree, **variables):
            found = self.original(tree, **variables)
            return found + [el for el in tree.iter("p") if el not in found][:1]

    monkeypatch.setattr(fast_trafilatura, "_SWAPS", [(rules, i, xpath, PrunesOneParagraphMore(xpath))
                                                    for rules, i, xpath, _ in fast_trafilatura.swaps()])
    changed = bench.identity(pages)
    assert any(differ for _, differ, _, _ in changed.values())
