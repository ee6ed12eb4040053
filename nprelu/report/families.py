"""Claims as families of tests: Holm's correction within a family and the one verdict rule.

Each paper claim (and the title question) is a **family**: its comparisons are tested together
(docs/statistics.md). A comparison "a - b has the sign s" gets a two-sided p from the paired
per-seed differences (:func:`significance`: Student t over the seeds; one seed with accuracies:
the two-proportion z test over the n test images; one seed otherwise: no test, p = 1). A
threshold ("at most 2 points") is tested as the difference from the threshold
(:func:`beyond`, :func:`level`). The family's p-values are Holm-corrected together
(:func:`nprelu.stats.holm`) and each comparison judged by :func:`nprelu.stats.decide`: holds
where the corrected p < 0.05 and the difference has the claimed sign, fails where p < 0.05 and
it has the opposite sign, inconclusive otherwise. The claim: :data:`CLAIM_RULE`.

Some comparisons cannot be evidence for the claim even when they hold (``not_evidence`` of
:meth:`Family.add`): one that holds through an attack the report shows to be masked on the
network it favours (:data:`MASKED`, :mod:`.masked`), and one that holds by construction
(:data:`CONSTRUCTION`: the L∞ distance at a layer capped at beta is at most beta). They keep
their numbers and p-values (and stay in Holm's family), but their "holds" is shown as that
word and is not counted among the holds.
"""
from __future__ import annotations

import math
from collections import Counter

from .. import stats

MASKED = "masked attack: not evidence"
CONSTRUCTION = "holds by construction"
#: The verdicts of a comparison that holds but is no evidence, in the order a claim names them.
NOT_EVIDENCE = (MASKED, CONSTRUCTION)

CLAIM_RULE = ("Each claim is a family of comparisons tested together: each comparison's "
              "two-sided p (paired t over the seeds) is Holm-corrected within the family; a "
              "comparison holds where its corrected p < 0.05 and the difference has the claimed "
              "sign, fails where p < 0.05 and it has the opposite sign, and is inconclusive "
              "otherwise. A comparison that holds only through an attack the report shows to be "
              "masked on the network it favours is marked \"masked attack: not evidence\", one "
              "that holds by construction \"holds by construction\"; neither counts as a hold. "
              "A claim holds when more than half of its comparisons hold, fails when more than "
              "half fail, and is inconclusive otherwise, counting only the comparisons that can "
              "be evidence; a claim that would hold only with those that cannot takes their "
              "mark.")


def finite_pairs(a: list, b: list) -> list[tuple]:
    """The seeds' (a, b) pairs where both values are finite."""
    return [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]


def significance(a: list, b: list, n: int | None = None) -> stats.Significance | None:
    """The test of a - b from per-seed values (module doc); None when no seed has both."""
    pairs = finite_pairs(a, b)
    if not pairs:
        return None
    if len(pairs) >= 2:
        return stats.paired_test([p[0] for p in pairs], [p[1] for p in pairs])
    x, y = pairs[0]
    if n and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0:
        pooled = (x + y) / 2
        se = math.sqrt(2 * pooled * (1 - pooled) / n)
        z = (x - y) / se if se > 0 else 0.0
        return stats.Significance(x - y, stats.norm_sf2(z) if se > 0 else 1.0, z, math.inf,
                                  f"two-proportion z over {n} test images (one seed)")
    return stats.Significance(x - y, 1.0, 0.0, 0, "one seed: no test")


def beyond(a: list, b: list, limit: float) -> stats.Significance | None:
    """The test of mean(a - b) against ``limit``: diff = mean(a - b) - limit."""
    pairs = finite_pairs(a, b)
    return level([x - y for x, y in pairs], limit) if pairs else None


def level(vals: list, limit: float) -> stats.Significance | None:
    """The test of the seeds' mean of ``vals`` against ``limit``: diff = mean - limit."""
    xs = [v for v in vals if math.isfinite(v)]
    if not xs:
        return None
    return stats.paired_test(xs, [limit] * len(xs))


class Family:
    """The comparisons of one claim, judged together (module doc)."""

    def __init__(self, name: str):
        self.name = name
        self.items: list[dict] = []

    def add(self, test: stats.Significance | None, sign: int, label: str = "",
            not_evidence: str | None = None) -> dict | None:
        """One comparison: ``test`` of a difference, ``sign`` the claimed direction;
        ``not_evidence`` (one of :data:`NOT_EVIDENCE`) replaces its verdict where it holds.
        Returns its entry (``verdict`` and ``p_holm`` set by :meth:`judge`), None for no test."""
        if test is None:
            return None
        if not_evidence not in (None,) + NOT_EVIDENCE:
            raise ValueError(f"not_evidence must be one of {NOT_EVIDENCE} or None, "
                             f"got {not_evidence!r}")
        item = {"test": test, "sign": sign, "label": label, "verdict": "inconclusive",
                "p_holm": 1.0, "not_evidence": not_evidence}
        self.items.append(item)
        return item

    @property
    def size(self) -> int:
        return len(self.items)

    def judge(self) -> "Family":
        """Holm over the family, then each comparison's verdict (module doc)."""
        tested = [i for i in self.items if i["test"].df != 0]      # one seed: no test
        for item, q in zip(tested, stats.holm([i["test"].p for i in tested])):
            item["p_holm"] = q
            item["verdict"] = stats.decide(item["test"].diff, q, item["sign"])
            if item["verdict"] == "holds" and item["not_evidence"]:
                item["verdict"] = item["not_evidence"]
        return self

    def settle(self, entries: list, missing: str | None = "inconclusive") -> "Family":
        """:meth:`judge`, then in each of ``entries`` (dicts holding under ``"item"`` what
        :meth:`add` returned) that item replaced by its ``verdict``, ``p``, ``p_holm`` and the
        ``family`` size; an entry without a test gets the verdict ``missing`` and NaN p's."""
        self.judge()
        for m in entries:
            item = m.pop("item")
            m.update(verdict=item["verdict"] if item else missing,
                     p=item["test"].p if item else float("nan"),
                     p_holm=item["p_holm"] if item else float("nan"), family=self.size)
        return self

    def counts(self) -> Counter:
        return Counter(i["verdict"] for i in self.items)

    def verdict(self) -> str:
        """The claim's verdict (:data:`CLAIM_RULE`)."""
        return claim_verdict(self.counts())

    def tag(self) -> str:
        """"family of 6, Holm" beside a claim's verdict."""
        return f"(family of {self.size}, Holm)"


def claim_verdict(counts: Counter) -> str:
    """Holds when more than half of the comparisons that can be evidence hold, fails when more
    than half fail; a claim that would hold only with those that are not evidence
    (:data:`NOT_EVIDENCE`) takes the mark of the most frequent of them."""
    h, f = counts.get("holds", 0), counts.get("fails", 0)
    total = h + f + counts.get("inconclusive", 0)
    if total and 2 * h > total:
        return "holds"
    if total and 2 * f > total:
        return "fails"
    extra = {w: counts.get(w, 0) for w in NOT_EVIDENCE if counts.get(w, 0)}
    if extra and 2 * (h + sum(extra.values())) > total + sum(extra.values()):
        return max(extra, key=lambda w: (extra[w], -NOT_EVIDENCE.index(w)))
    return "inconclusive"


def p_text(item: dict | None) -> str:
    """"holds, p 0.012, Holm 0.036" for one judged comparison."""
    if item is None:
        return "no test"
    t = item["test"]
    if t.df == 0:
        return f"{item['verdict']}, one seed: no test"
    return f"{item['verdict']}, p {_p(t.p)}, Holm {_p(item['p_holm'])}"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"
