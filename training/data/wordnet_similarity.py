"""Wu-Palmer similarity over the WordNet noun hierarchy, computed from the data files.

wup(s1, s2) = 2·d(lcs) / (len(s1, lcs) + len(s2, lcs) + 2·d(lcs)), where d counts nodes from the root
(root = 1) along the longest hypernym path, `lcs` is the common hypernym (self included) with the
greatest d, and len is the shortest hypernym-path distance. Word similarity = max over sense pairs.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

from training.data.wordnet import Synset


class WuPalmer:
    def __init__(self, synsets: dict[str, Synset]) -> None:
        self.synsets = synsets
        self.senses: dict[str, list[str]] = {}
        for key, synset in synsets.items():
            if synset.pos == "n":
                for lemma in synset.lemmas:
                    self.senses.setdefault(lemma.lower(), []).append(key)
        self.depth = lru_cache(maxsize=None)(self._depth)
        self.ancestors = lru_cache(maxsize=None)(self._ancestors)

    def _depth(self, key: str) -> int:
        parents = self.synsets[key].hypernyms
        return 1 + max((self.depth(p) for p in parents), default=0)

    def _ancestors(self, key: str) -> dict[str, int]:
        """Every hypernym (self included) with its shortest distance from `key`."""
        dist = {key: 0}
        queue = deque([key])
        while queue:
            node = queue.popleft()
            for parent in self.synsets[node].hypernyms:
                if parent not in dist:
                    dist[parent] = dist[node] + 1
                    queue.append(parent)
        return dist

    def synset_similarity(self, a: str, b: str) -> float:
        up_a, up_b = self.ancestors(a), self.ancestors(b)
        common = up_a.keys() & up_b.keys()
        if not common:
            return 0.0
        lcs = max(common, key=lambda k: (self.depth(k), -(up_a[k] + up_b[k])))
        d = self.depth(lcs)
        return 2 * d / (up_a[lcs] + up_b[lcs] + 2 * d)

    def word_similarity(self, a: str, b: str) -> float | None:
        senses_a, senses_b = self.senses.get(a.lower()), self.senses.get(b.lower())
        if not senses_a or not senses_b:
            return None
        return max(self.synset_similarity(x, y) for x in senses_a for y in senses_b)
