"""Five-field cron expressions, checked at load time so a bad one never reaches the scheduler."""

from __future__ import annotations

_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("day_of_week", 0, 6))
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def validate_cron(expr: str) -> str | None:
    """Return a problem description, or None when the five-field expression is fine.

    Day-of-week must use names (mon-fri): APScheduler 3 counts 0 as Monday while
    crontab counts 0 as Sunday, so a number would silently fire on the wrong day.
    """
    fields = expr.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(fields)}"
    for value, (fname, lo, hi) in zip(fields, _CRON_FIELDS):
        for part in value.split(","):
            problem = _cron_part(part.lower(), fname, lo, hi)
            if problem:
                return f"{fname} field {value!r}: {problem}"
    return None


def _cron_part(part: str, fname: str, lo: int, hi: int) -> str | None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return f"bad step {step!r}"
    if base == "*":
        return None
    names = _WEEKDAYS if fname == "day_of_week" else _MONTHS if fname == "month" else ()
    bounds = base.split("-", 1)
    if len(bounds) == 2 and _cron_value(bounds[0], names) > _cron_value(bounds[1], names):
        return f"range {base!r} runs backwards"
    for bound in bounds:
        if fname == "day_of_week":
            if bound not in names:
                return "use weekday names (mon, tue, ... sun), not numbers"
        elif bound in names:
            continue
        elif not bound.isdigit() or not lo <= int(bound) <= hi:
            return f"{bound!r} is not in {lo}-{hi}"
    return None


def _cron_value(bound: str, names: tuple[str, ...]) -> int:
    if bound in names:
        return names.index(bound)
    return int(bound) if bound.isdigit() else -1
