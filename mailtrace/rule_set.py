"""The failure taxonomy's text rules as one RE2 set, compiled once, when this module is imported.

:func:`mailtrace.failures.match_texts` names the category of many distinct replies at once: the
first rule whose wording a reply contains. Matched rule by rule through Arrow's regex kernels,
every call compiled the RE2 program of each rule it tried again (about 34 of the 37 rules, 32 ms
a call; a report makes two calls, the first of them on its critical path). An RE2 set holds the
programs of every rule at once and reports, in one pass over a reply, every rule whose wording
it contains: compiled here once (0.05 s, on import, which the commands that classify many
replies do beside the parse of their logs), it classifies a reply in about 16 µs.

A set may run out of memory on a hostile reply, and then reports nothing at all; so it holds one
more pattern that every reply contains, and a reply for which it reports nothing is left to
Python's patterns (:func:`rules_in` returns None).

>>> from mailtrace.failures import Category, _RULES
>>> found = rules_in("550 5.1.1 <…>: Recipient address rejected: User unknown")
>>> found is not None and _RULES[min(found)][0] is Category.UNKNOWN_USER
True
"""

from __future__ import annotations

import re2

from mailtrace.failures import _RULES

__all__ = ["REFUSED", "rules_in"]

# RE2's memory for the set's programs and its DFA cache: its default (8 MB) is for one pattern.
_MAX_MEM = 64 << 20


def _compile() -> tuple[re2.Set, list[int], frozenset[int]]:
    options = re2.Options()
    options.case_sensitive = False  # as the rules' Python patterns (re.IGNORECASE)
    options.max_mem = _MAX_MEM
    rules = re2.Set.SearchSet(options)
    of_index: list[int] = []  # the set's pattern number -> the rule's
    refused = set()
    for number, (_, wording) in enumerate(_RULES):
        if wording.re2 is None:
            continue  # every alternative has a lookaround: Python's (Wording.rest)
        try:
            rules.Add(wording.re2)
        except re2.error:
            refused.add(number)
            continue
        of_index.append(number)
    rules.Add("")  # in every reply: a set that reports nothing has failed
    rules.Compile()
    return rules, of_index, frozenset(refused)


_SET, _RULE_OF, _REFUSED = _compile()
#: The rules whose plain alternatives RE2 refuses: matched by Python's patterns instead.
REFUSED: frozenset[int] = _REFUSED


def rules_in(text: str) -> set[int] | None:
    """The numbers of the rules (in ``failures._RULES``) whose plain alternatives (not those
    with lookarounds, nor the rules in :data:`REFUSED`) RE2 finds in normalised ``text``; None
    when the set failed on it (out of memory).

    >>> rules_in("250 2.0.0 Ok: queued")
    set()
    """
    found = _SET.Match(text)
    if not found:
        return None
    last = len(_RULE_OF)  # the pattern every text contains
    return {_RULE_OF[k] for k in found if k != last}
