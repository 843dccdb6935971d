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
    (r"^scheme (?P<scheme>\S+) is sealed: nothing can be imported into it$",
     _l("Scheme %(scheme)s is sealed: nothing can be imported into it.")),
    (r"^scheme (?P<scheme>\S+) is sealed: no new (?P<table>[a-z_]+) can be added$",
     _l("Scheme %(scheme)s is sealed: no new %(table)s can be added.")),
    (r"^scheme (?P<scheme>\S+) is sealed: (?P<sealed>.+) can no longer change$",
     _l("Scheme %(scheme)s is sealed: %(sealed)s can no longer change.")),
    (r"^progress reports of scheme (?P<scheme>\S+) closed at the end of (?P<cutoff>\S+) \(its cut-off, "
     r"UTC\+8\); today is (?P<today>\S+): the (?P<month>\S+) report of (?P<unit>\S+) × (?P<indicator>\S+) "
     r"is not accepted; ask the office to verify \(核定\) the value$",
     _l("Progress reports of scheme %(scheme)s closed at the end of %(cutoff)s (its cut-off, UTC+8); "
        "today is %(today)s: the %(month)s report of %(unit)s × %(indicator)s is not accepted; ask the "
        "office to verify the value.")),
    (r"^events of scheme (?P<scheme>\S+) closed at the end of (?P<cutoff>\S+) \(its cut-off, UTC\+8\); "
     r"today is (?P<today>\S+): event (?P<code>\S+) is not accepted; .*$",
     _l("Events of scheme %(scheme)s closed at the end of %(cutoff)s (its cut-off, UTC+8); today is "
        "%(today)s: event %(code)s is not accepted; record it in the next year's scheme (carry-over).")),
    (r"^the (?P<month>\S+) report of (?P<unit>\S+) × (?P<indicator>\S+) was read by run (?P<run>\d+) "
     r"\((?P<period>\S+)\), published at (?P<at>\S+): a correction is no longer accepted; .*$",
     _l("The %(month)s report of %(unit)s × %(indicator)s was read by run %(run)s (%(period)s), published "
        "at %(at)s: a correction is no longer accepted; file an appeal against run %(run)s, or ask the "
        "office to verify the value.")),
    (r"^event (?P<code>\S+) falls in run (?P<run>\d+) \((?P<period>\S+)\), published at (?P<at>\S+): .*$",
     _l("Event %(code)s falls in run %(run)s (%(period)s), published at %(at)s: it is no longer accepted; "
        "file an appeal against run %(run)s, or ask the office to verify it.")),
    (r"^target (?P<unit>\S+) × (?P<indicator>\S+): (?:the request|adjustment (?P<id>\d+)) changes "
     r"(?P<month>\S+), which run (?P<run>\d+) \((?P<period>\S+)\), published at (?P<at>\S+) read: .*$",
     _l("Target %(unit)s × %(indicator)s: the change touches %(month)s, which run %(run)s (%(period)s), "
        "published at %(at)s, read: the published results keep the target they were computed from; "
        "request a change of later months only, or file an appeal against run %(run)s.")),
    (r"^scheme (?P<scheme>\S+) has undecided appeals \((?P<ids>.+)\): decide them before the year run "
     r"(?P<run>\d+) is sealed$",
     _l("Scheme %(scheme)s has undecided appeals (%(ids)s): decide them before the year run %(run)s is "
        "sealed.")),
    (r"^no target for unit (?P<unit>\S+) × indicator (?P<indicator>\S+) in scheme (?P<scheme>\S+)$",
     _l("Unit %(unit)s has no target for indicator %(indicator)s in scheme %(scheme)s.")),
    (r"^no target for unit (?P<unit>\S+) × indicator (?P<indicator>\S+)$",
     _l("Unit %(unit)s has no target for indicator %(indicator)s.")),
    (r"^no unit (?P<unit>\S+) in scheme (?P<scheme>\S+)$",
     _l("Scheme %(scheme)s has no unit %(unit)s.")),
    (r"^no (?P<what>case|appeal|notice|target adjustment|target|run|progress report|event|scheme) "
     r"(?P<id>\S+)$",
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
    *((rf"^run (?P<run>\d+): {action} refused, the ledger cannot be checkpointed: checkpoint (?P<id>\d+) "
       r"\(signed (?P<at>[^)]*)\) covers (?P<size>\d+) events but the ledger has only (?P<now>\d+): .*$", cut)
      for action, cut in (
          ("publish", _l("Run %(run)s cannot be published: checkpoint %(id)s (signed %(at)s) covers %(size)s "
                         "events but the ledger now has only %(now)s, so events were deleted from its end. "
                         "Run kaohe audit verify and find out why first.")),
          ("seal", _l("Run %(run)s cannot be sealed: checkpoint %(id)s (signed %(at)s) covers %(size)s "
                      "events but the ledger now has only %(now)s, so events were deleted from its end. "
                      "Run kaohe audit verify and find out why first.")))),
    *((rf"^run (?P<run>\d+): {action} refused, the ledger cannot be checkpointed: checkpoint (?P<id>\d+) "
       r"\(signed (?P<at>[^)]*)\): the ledger's first (?P<size>\d+) events do not hash to its root .*$",
       rewritten)
      for action, rewritten in (
          ("publish", _l("Run %(run)s cannot be published: the ledger's first %(size)s events do not match "
                         "checkpoint %(id)s (signed %(at)s), so the history it covers was rewritten. "
                         "Run kaohe audit verify and find out why first.")),
          ("seal", _l("Run %(run)s cannot be sealed: the ledger's first %(size)s events do not match "
                      "checkpoint %(id)s (signed %(at)s), so the history it covers was rewritten. "
                      "Run kaohe audit verify and find out why first.")))),
))

SUBJECTS = {
    "case": _l("Case"), "appeal": _l("Appeal"), "notice": _l("Supervision notice"),
    "target adjustment": _l("Adjustment request"), "supervision notice": _l("Supervision notice"),
    "target": _l("Target"), "run": _l("Run"), "progress report": _l("Progress report"), "event": _l("Event"),
    "scheme": _l("Scheme"),
}

# What a sealed scheme refuses to change, in the reader's words (``workflows.freeze``).
SEALED_SUBJECTS: tuple[tuple[re.Pattern[str], Any], ...] = tuple((re.compile(p), t) for p, t in (
    (r"^the (?P<month>\S+) report of (?P<unit>\S+) × (?P<indicator>\S+)$",
     _l("the %(month)s report of %(unit)s × %(indicator)s")),
    (r"^target (?P<unit>\S+) × (?P<indicator>\S+)$", _l("target %(unit)s × %(indicator)s")),
    (r"^event (?P<id>\S+)$", _l("event %(id)s")),
    (r"^notice (?P<id>\d+)$", _l("supervision notice %(id)s")),
    (r"^supervision notices from run (?P<id>\d+)$", _l("supervision notices from run %(id)s")),
    (r"^scheme (?P<id>\S+)$", _l("scheme %(id)s")),
    (r"^(?P<table>[a-z_]+) (?P<id>\d+)$", _l("a record of %(table)s %(id)s")),
))
TABLES = {
    "run_case": _l("deduction matter"), "case_event": _l("deduction matter"), "appeal": _l("Appeal"),
    "appeal_firing": _l("Appeal"), "publication": _l("Publication"), "run": _l("assessment run"),
    "target": _l("Target"),
    "target_co_unit": _l("Target"), "progress_report": _l("Progress report"), "event": _l("Event"),
    "verification": _l("Verification"), "target_adjustment": _l("Adjustment request"),
    "target_adjustment_event": _l("Adjustment request"), "supervision_notice": _l("Supervision notice"),
    "notice_event": _l("Supervision notice"), "unit": _l("Unit"), "category": _l("Category"),
    "section": _l("Section"), "indicator": _l("Indicator"),
}


def _sealed_subject(what: str) -> str:
    for shape, template in SEALED_SUBJECTS:
        found = shape.match(what)
        if found is not None:
            values = {k: (v or "") for k, v in found.groupdict().items()}
            if "table" in values:
                values["table"] = str(TABLES.get(values["table"], values["table"]))
            return (str(template) % values).strip()
    return what


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
    if "sealed" in values:
        values["sealed"] = _sealed_subject(values["sealed"])
    if "table" in values:
        values["table"] = str(TABLES.get(values["table"], values["table"]))
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


def translated(message: str) -> str:
    """``message`` in the reader's language when it has a known shape, else as it is (an import's
    row errors: the year's refusals are translated, the importer's own checks stay as they are)."""
    if str(get_locale() or "zh").startswith("en"):
        return message
    for shape, template in SHAPES:
        found = shape.match(message)
        if found is not None:
            return _fill(template, found.groupdict())
    return message


def localized(exc: DomainError) -> str:
    """A domain error for the page's reader; a refused batch names each subject's problem."""
    if isinstance(exc, BatchRefused) and not str(get_locale() or "zh").startswith("en"):
        lines = "; ".join(f"{sid}: {localized_message(msg)}" for sid, msg in exc.errors)
        return str(_("Refused for %(n)s item(s), nothing changed — %(lines)s",
                     n=len(exc.errors), lines=lines))
    return localized_message(str(exc), exc)
