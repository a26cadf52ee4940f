"""Finding a payer at the counter: word and fuzzy search over the payer index (names,
account numbers, addresses), and loading the items the hits point to."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from cashiering.targets import TargetError, TargetItem, get_target_type

#: A payer-index row ranks as a fuzzy match from this pg_trgm word similarity up.
FUZZY_THRESHOLD = 0.3


#: Rows taken from each candidate source before ranking: bounds the work of a search
#: whatever the number of rows that match a common word ("smith", "kent").
WORD_CANDIDATES = 60


FUZZY_CANDIDATES = 200


#: A name word typed with two neighbouring letters swapped matches almost as well as one
#: typed right.
SWAPPED_SCORE = 0.9


MAX_WORDS = 6


_WORD_SPLIT = re.compile(r"[\s,;]+")


# One statement, five sources, each cheap on its own index, ranked in order:
#   exact    the number exactly as typed (or upper/lower case): btree equality;
#   prefix   numbers starting with the text: btree range on varchar_pattern_ops;
#   words    rows containing every typed word (a word of one or two characters: a word
#            starting with it): trigram GIN, plain LIKE recheck (cheap);
#   fuzzy    only when the above found too little: rows where every name word of three
#            letters or more starts a word with its first two letters, and every other
#            word (numbers, "st") is present as typed (trigram GIN); then each name word
#            must be like a word of the name (pg_trgm word_similarity, which forgives
#            typos: "jon smth" finds "John Smith") or be present as typed;
#   swapped  only when that found nobody: rows with a word spelt as a name word
#            with two neighbouring letters swapped back ("ikng" finds "King"), measured
#            the same way.
# Trigram functions cost microseconds a row (a row's whole search text costs five times
# its name), so they only run on a bounded set of candidates, never on every row that
# shares a trigram with the query.
_SEARCH_SQL = """
WITH exact AS (
    SELECT id, 0 AS tier, 1.0::real AS score FROM cashiering_payerindex
    WHERE is_active AND number IN (%(raw)s, %(upper)s, %(lower)s)
), by_prefix AS (
    SELECT id, 1 AS tier, 0.0::real AS score FROM cashiering_payerindex
    WHERE is_active AND (number LIKE %(prefix)s OR number LIKE %(prefix_upper)s)
    ORDER BY number USING ~<~ LIMIT %(limit)s
), by_words AS MATERIALIZED (
    SELECT id, 2 AS tier, similarity(%(lower)s, name) AS score FROM (
        SELECT id, name FROM cashiering_payerindex
        WHERE is_active AND {word_conditions} LIMIT %(word_candidates)s
    ) w ORDER BY score DESC LIMIT %(limit)s
){fuzzy_cte}
SELECT p.kind, p.ref, p.number, p.name, p.address, p.detail
FROM (
    SELECT DISTINCT ON (id) id, tier, score FROM (
        SELECT * FROM exact UNION ALL SELECT * FROM by_prefix
        UNION ALL SELECT * FROM by_words{fuzzy_union}
    ) found ORDER BY id, tier
) hit JOIN cashiering_payerindex p ON p.id = hit.id
ORDER BY hit.tier, hit.score DESC, p.number
LIMIT %(limit)s
"""


# Candidates measured: each name word's match (see _match_columns) must reach the
# threshold; the best first.
_MEASURED = """
    SELECT id, 3 AS tier, {match_sum} + similarity(%(fuzzy_text)s, name) AS score
    FROM (
        SELECT id, name, {match_columns} FROM ({candidates}) candidate
        OFFSET 0
    ) measured
    WHERE {all_match}
    ORDER BY score DESC LIMIT %(limit)s
"""


# The fuzzy words' candidates, when the sources above found too little.
_FUZZY_FOUND = """
            SELECT id, name, search_text FROM cashiering_payerindex
            WHERE is_active AND {fuzzy_conditions}
              AND NOT EXISTS (SELECT 1 FROM exact)
              AND (SELECT count(*) FROM by_words) + (SELECT count(*) FROM by_prefix)
                  < %(limit)s
            LIMIT %(fuzzy_candidates)s
"""


# Only when the fuzzy words found nobody: rows where a name word is spelt as typed with
# two neighbouring letters swapped back. Every row with such a spelling is found first
# (materialized, so the planner reads it from the trigram index rather than scanning the
# table in the hope of an early stop), then measured as the fuzzy candidates are.
_SWAPPED_FOUND = """
    SELECT id, name, search_text FROM cashiering_payerindex
    WHERE is_active AND ({swapped_conditions})
      AND NOT EXISTS (SELECT 1 FROM exact)
      AND NOT EXISTS (SELECT 1 FROM by_fuzzy)
      AND (SELECT count(*) FROM by_words) + (SELECT count(*) FROM by_prefix) < %(limit)s
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class IndexHit:
    kind: str
    ref: str
    number: str
    name: str
    address: str
    detail: str


@dataclass(frozen=True)
class PayerHit:
    """One search result with what is owed now, for the counter's result list."""

    kind: str
    kind_label: str
    ref: str
    number: str
    name: str
    address: str
    detail: str
    amount_due: Decimal | None  # None: a fee item, priced at the counter
    balance: Decimal | None
    default_amount: Decimal | None
    priced_by_quantity: bool
    inquiry_url: str | None = None

    @property
    def has_credit(self) -> bool:
        return self.balance is not None and self.balance < 0


def _match_columns(count: int, *, swapped: bool) -> str:
    """How well each of `count` name words matches a candidate row (0 to 1).

    A word matches when the name holds a word like it, when it is found as typed anywhere
    (a street name in the address), or, for the swapped source, when a word reads as it
    does with two neighbouring letters swapped (trigrams do not forgive that in a short
    name: "kmi" shares none with "kim")."""
    columns = []
    for i in range(count):
        tests = [
            f"word_similarity(%(fuzzy{i})s, name)",
            f"CASE WHEN search_text LIKE %(fuzzy_like{i})s THEN 1 ELSE 0 END",
        ]
        if swapped:
            tests.append(f"CASE WHEN search_text ~ %(swapped{i})s THEN {SWAPPED_SCORE} ELSE 0 END")
        columns.append(f"GREATEST({', '.join(tests)}) AS match{i}")
    return ", ".join(columns)


def swapped_spellings(word: str) -> list[str]:
    """`word` with each pair of neighbouring letters swapped: "ikng" -> "kng", "king",
    "ikgn" (letters only, so safe inside a regular expression)."""
    spellings = []
    for i in range(len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if swapped != word and swapped not in spellings:
            spellings.append(swapped)
    return spellings or [word]


def search_words(q: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(q.strip().lower()) if w][:MAX_WORDS]


def payer_index_search(q: str, limit: int = 20) -> list[IndexHit]:
    """Payer-index rows matching `q`, best first, in one query (see _SEARCH_SQL)."""
    raw = q.strip()[:100]
    words = search_words(raw)
    if not words or limit <= 0:
        return []
    lower = raw.lower()
    params: dict[str, str | int | float] = {
        "raw": raw,
        "upper": raw.upper(),
        "lower": lower,
        "prefix": _like_escape(raw) + "%",
        "prefix_upper": _like_escape(raw.upper()) + "%",
        "limit": limit,
        "word_candidates": max(WORD_CANDIDATES, limit),
        "fuzzy_candidates": FUZZY_CANDIDATES,
        "threshold": FUZZY_THRESHOLD,
    }
    word_conditions = []
    fuzzy_conditions = []
    swap_options: dict[int, str] = {}
    fuzzy_words = []
    for index, word in enumerate(words):
        # A word of one or two characters must start a word ("st", "24"): a substring
        # that short has no trigram to look up, and would match nearly everything.
        pattern = f"% {_like_escape(word)}%" if len(word) < 3 else f"%{_like_escape(word)}%"
        params[f"word{index}"] = pattern
        condition = f"search_text LIKE %(word{index})s"
        word_conditions.append(condition)
        if len(word) >= 3 and word.isalpha():
            # A name word may be misspelt, but rarely in its first two letters:
            # requiring them at the start of a word keeps the candidates few.
            params[f"start{index}"] = f"% {_like_escape(word[:2])}%"
            fuzzy_conditions.append(f"search_text LIKE %(start{index})s")
            # Two neighbouring letters typed the wrong way round may be those letters
            # ("ikng", "hlil"): rows with a word spelt as this one with a swap undone
            # are candidates of their own (whole spellings, rare, so each finds few).
            options = []
            for n, spelling in enumerate(swapped_spellings(word)):
                params[f"swap{index}_{n}"] = f"% {_like_escape(spelling)}%"
                options.append(f"search_text LIKE %(swap{index}_{n})s")
            swap_options[index] = "(" + " OR ".join(options) + ")"
            fuzzy_words.append(word)
        else:
            fuzzy_conditions.append(condition)  # numbers and short words: as typed

    for i, word in enumerate(fuzzy_words):
        params[f"fuzzy{i}"] = word
        params[f"fuzzy_like{i}"] = f"%{_like_escape(word)}%"
        params[f"swapped{i}"] = r"\m(" + "|".join(swapped_spellings(word)) + r")\M"

    def measured(candidates: str, *, swapped: bool) -> str:
        return _MEASURED.format(
            candidates=candidates,
            match_columns=_match_columns(len(fuzzy_words), swapped=swapped),
            match_sum=" + ".join(f"match{i}" for i in range(len(fuzzy_words))),
            all_match=" AND ".join(f"match{i} >= %(threshold)s" for i in range(len(fuzzy_words))),
        )

    fuzzy_cte = ""
    if fuzzy_words:
        swapped_conditions = " OR ".join(
            " AND ".join([*fuzzy_conditions[:i], swapped, *fuzzy_conditions[i + 1 :]])
            for i, swapped in swap_options.items()
        )
        fuzzy_cte = (
            ", by_fuzzy AS MATERIALIZED ("
            + measured(
                _FUZZY_FOUND.format(fuzzy_conditions=" AND ".join(fuzzy_conditions)),
                swapped=False,
            )
            + "), swapped_found AS MATERIALIZED ("
            + _SWAPPED_FOUND.format(swapped_conditions=swapped_conditions)
            + "), by_swapped AS MATERIALIZED ("
            + measured("SELECT * FROM swapped_found LIMIT %(fuzzy_candidates)s", swapped=True)
            + ")"
        )
    sql = _SEARCH_SQL.format(
        word_conditions=" AND ".join(word_conditions),
        fuzzy_cte=fuzzy_cte,
        fuzzy_union=(
            " UNION ALL SELECT * FROM by_fuzzy UNION ALL SELECT * FROM by_swapped"
            if fuzzy_words
            else ""
        ),
    )
    params["fuzzy_text"] = " ".join(fuzzy_words)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [IndexHit(*row) for row in cursor.fetchall()]


def load_items(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], TargetItem]:
    """Current items for (kind, ref) pairs through the registry: one query per kind.
    Unknown kinds and refs that no longer exist are left out."""
    by_kind: dict[str, list[str]] = {}
    for kind, ref in pairs:
        refs = by_kind.setdefault(kind, [])
        if ref not in refs:
            refs.append(ref)
    items: dict[tuple[str, str], TargetItem] = {}
    for kind, refs in by_kind.items():
        try:
            target_type = get_target_type(kind)
        except TargetError:
            continue
        for ref, item in target_type.load(refs).items():
            items[(kind, ref)] = item
    return items


def payer_search(q: str, limit: int = 20) -> list[PayerHit]:
    """The counter's search: index rows for `q` with their amounts due (one index query,
    then one query per kind of item found)."""
    hits = payer_index_search(q, limit=limit)
    items = load_items((hit.kind, hit.ref) for hit in hits)
    results = []
    for hit in hits:
        item = items.get((hit.kind, hit.ref))
        if item is None:
            continue  # indexed but gone (or a fee item switched off since)
        target_type = get_target_type(hit.kind)
        results.append(
            PayerHit(
                kind=hit.kind,
                kind_label=target_type.label,
                ref=hit.ref,
                number=hit.number,
                name=hit.name,
                address=hit.address,
                detail=hit.detail,
                amount_due=None if item.balance is None else item.amount_due,
                balance=item.balance,
                default_amount=item.default_amount,
                priced_by_quantity=target_type.priced_by_quantity,
                inquiry_url=target_type.inquiry_url(hit.ref),
            )
        )
    return results
