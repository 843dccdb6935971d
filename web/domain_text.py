"""Domain errors in the reader's language on pages.

The workflows raise errors with precise English messages (they know nothing of languages; the
API, the CLI and the ledger keep them as they are). A page shows a Chinese reader the same
message in Chinese: each known message shape is matched here and its details (ids, codes, dates,
names, states) are carried into the translated sentence. A message of no known shape is shown
with its kind in Chinese ("状态冲突：…") and the original detail, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workflows.errors import (
    BatchRefused,
    Conflict,
    DomainError,
    Forbidden,
    IllegalTransition,
    Invalid,
    NotFound,
)

# The roles a separation-of-duties message names ("X is the proposer: a different person must act").
PARTS = {
    "proposer": _l("proposer"), "reviewer": _l("reviewer"), "approver": _l("approver"),
    "requester": _l("requester"), "responder": _l("responder"), "filer": _l("filer"),
}

# (message shape, translated sentence): the groups of the shape fill the sentence.
SHAPES: tuple[tuple[re.Pattern[str], Any], ...] = tuple((re.compile(p), t) for p, t in (
    (r"^(?P<who>\S+) is the (?P<part>\w+): a different person must act \(separation of duties\)$",
     _l("%(who)s is the %(part)s of this matter: a different person must act (separation of duties).")),
    (r"^(?P<who>\S+) lacks the role (?P<role>\S+) that (?P<action>\S+) needs$",
     _l("%(who)s lacks the role %(role)s that %(action)s needs.")),
    (r"^(?P<who>\S+) is a member of the assessed unit (?P<unit>\S+)$",
     _l("%(who)s is a member of the assessed unit %(unit)s and may not decide this.")),
    (r"^target adjustments of scheme (?P<scheme>\S+) closed at the end of (?P<cutoff>\S+) \(its adjustment "
     r"cut-off, UTC\+8\); today is (?P<today>\S+) \(.*\): target (?P<target>.+) keeps its value$",
     _l("Target adjustments of scheme %(scheme)s closed at the end of %(cutoff)s (its adjustment cut-off, "
        "UTC+8); today is %(today)s: target %(target)s keeps its value.")),
    (r"^target (?P<target>.+) changed since adjustment (?P<id>\d+) was requested \(version (?P<old>\d+) → "
     r"(?P<new>\d+)\): reject it and request again$",
     _l("Target %(target)s changed since adjustment request %(id)s was made (version %(old)s → %(new)s): "
        "reject it and request again.")),
    (r"^run (?P<run>\d+) is published until (?P<until>.+); it is now (?P<now>.+): the committee seals after "
     r"the publication window$",
     _l("Run %(run)s is published until %(until)s and it is now %(now)s: the committee seals after the "
        "publication window.")),
    (r"^run (?P<run>\d+) has undecided appeals: (?P<ids>.+)$",
     _l("Run %(run)s has undecided appeals: %(ids)s.")),
    (r"^run (?P<run>\d+) was already published at (?P<at>.+) by (?P<who>\S+)$",
     _l("Run %(run)s was already published at %(at)s by %(who)s.")),
    (r"^scheme (?P<scheme>\S+) is sealed: (?P<what>.+) can no longer change$",
     _l("Scheme %(scheme)s is sealed: %(what)s can no longer change.")),
    (r"^no target for unit (?P<unit>\S+) × indicator (?P<indicator>\S+) in scheme (?P<scheme>\S+)$",
     _l("Unit %(unit)s has no target for indicator %(indicator)s in scheme %(scheme)s.")),
    (r"^no target for unit (?P<unit>\S+) × indicator (?P<indicator>\S+)$",
     _l("Unit %(unit)s has no target for indicator %(indicator)s.")),
    (r"^no unit (?P<unit>\S+) in scheme (?P<scheme>\S+)$",
     _l("Scheme %(scheme)s has no unit %(unit)s.")),
    (r"^no (?P<what>case|appeal|notice|target adjustment|target|run|progress report|event) (?P<id>\S+)$",
     _l("There is no %(what)s %(id)s.")),
    (r"^(?P<what>.+): (?P<value>'.*') is not a number$", _l("%(what)s: %(value)s is not a number.")),
    (r"^value (?P<value>'.*') is not a number$", _l("%(value)s is not a number.")),
    (r"^(?P<what>.+) is required$", _l("Required: %(what)s.")),
    (r"^(?P<what>.+) needs a reason$", _l("%(what)s needs a reason.")),
    (r"^(?P<what>.+) was changed by someone else at the same time: reload and try again$",
     _l("%(what)s was changed by someone else at the same time: reload and try again.")),
    (r"^appeal (?P<id>\d+) is under review by (?P<who>\S+): only they decide it$",
     _l("Appeal %(id)s is under review by %(who)s: only they decide it.")),
    (r"^an adjusted appeal gives new points for each cited firing: (?P<seqs>\[.*\])$",
     _l("An adjusted decision gives new points for each cited firing: %(seqs)s.")),
    (r"^firing (?P<seq>\d+): adjusted points must lessen the deduction of (?P<points>\S+) without voiding it "
     r"\(above \S+, below 0\); (?P<value>\S+) is not$",
     _l("Firing %(seq)s: adjusted points must lessen its deduction of %(points)s without voiding it (above "
        "%(points)s, below 0); %(value)s does not.")),
    (r"^(?P<who>\S+) may appeal only for their own units, not (?P<unit>\S+)$",
     _l("%(who)s may appeal only for their own units, not %(unit)s.")),
    (r"^scheme (?P<scheme>\S+): (?P<count>\d+) event\(s\) of work year (?P<prev>\d+) with a document date "
     r"\((?P<events>.+)\) count in \d+ or carry over to (?P<year>\d+) depending on \d+'s cut-off, and no "
     r"scheme of \d+ is in the database: set the scheme's previous_cutoff_date \(上年度截止日期\) in its "
     r"scheme sheet and import it again$",
     _l("Scheme %(scheme)s: %(count)s event(s) of work year %(prev)s with a document date (%(events)s) count "
        "in %(prev)s or carry over to %(year)s depending on %(prev)s's cut-off, and no scheme of %(prev)s is "
        "in the database: set the scheme's previous cut-off date in its scheme sheet and import it again.")),
    (r"^scheme (?P<scheme>\S+): previous_cutoff_date (?P<setting>\S+) is not the cut-off of (?P<prev>\d+)'s "
     r"scheme (?P<listed>.+); carry-over must follow the cut-off that year's run used: clear "
     r"previous_cutoff_date or set it to that date$",
     _l("Scheme %(scheme)s: its previous cut-off date %(setting)s is not the cut-off of %(prev)s's scheme "
        "%(listed)s; carry-over must follow the cut-off that year's run used: clear it or set it to that "
        "date.")),
    (r"^scheme (?P<scheme>\S+): the schemes of (?P<prev>\d+) have different cut-offs, (?P<listed>.+); set "
     r"the scheme's previous_cutoff_date \(上年度截止日期\) to the one that decides carry-over$",
     _l("Scheme %(scheme)s: the schemes of %(prev)s have different cut-offs, %(listed)s; set the scheme's "
        "previous cut-off date to the one that decides carry-over.")),
))

SUBJECTS = {
    "case": _l("Case"), "appeal": _l("Appeal"), "notice": _l("Supervision notice"),
    "target adjustment": _l("Adjustment request"), "supervision notice": _l("Supervision notice"),
    "target": _l("Target"), "run": _l("Run"), "progress report": _l("Progress report"), "event": _l("Event"),
}


def _kind(exc: DomainError | None) -> str:
    if isinstance(exc, NotFound):
        return str(_("Not found"))
    if isinstance(exc, Forbidden):
        return str(_("Not allowed"))
    if isinstance(exc, Conflict):
        return str(_("Conflict with the current state"))
    if isinstance(exc, Invalid):
        return str(_("Not accepted"))
    return str(_("Refused"))


def _fill(template: Any, groups: Mapping[str, str | None]) -> str:
    values = {k: (v or "") for k, v in groups.items()}
    if "part" in values:
        values["part"] = str(PARTS.get(values["part"], values["part"]))
    if "what" in values and values["what"] in SUBJECTS:
        values["what"] = str(SUBJECTS[values["what"]])
    return str(template) % values


def localized_message(message: str, exc: DomainError | None = None) -> str:
    """``message`` (a domain error's text) for the page's reader: as it is in English, translated
    with its details in Chinese."""
    if str(get_locale() or "zh").startswith("en"):
        return message
    if isinstance(exc, IllegalTransition):
        subject = str(SUBJECTS.get(exc.subject, exc.subject))
        return str(_("%(subject)s %(id)s is %(state)s: “%(action)s” is not allowed in that state.",
                     subject=subject, id=exc.subject_id, state=exc.state, action=exc.action))
    for shape, template in SHAPES:
        found = shape.match(message)
        if found is not None:
            return _fill(template, found.groupdict())
    return str(_("%(kind)s: %(detail)s", kind=_kind(exc), detail=message))


def localized(exc: DomainError) -> str:
    """A domain error for the page's reader; a refused batch names each subject's problem."""
    if isinstance(exc, BatchRefused) and not str(get_locale() or "zh").startswith("en"):
        lines = "; ".join(f"{sid}: {localized_message(msg)}" for sid, msg in exc.errors)
        return str(_("Refused for %(n)s item(s), nothing changed — %(lines)s",
                     n=len(exc.errors), lines=lines))
    return localized_message(str(exc), exc)
