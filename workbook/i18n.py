"""The one home of translation: ``_()`` for text shown now, ``msg()`` for text kept in English and shown translated.

Catalogs are gettext ``.po`` sources compiled to ``.mo`` (``scripts/catalogs``) under
``workbook/locale/<lang>/LC_MESSAGES/nfwb.mo``. The language comes from :func:`set_language`
when it was called, else from ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG`` as gettext reads
them; English (the message ids themselves) when no catalog fits.

Findings keep their English words (JSON output and ``to_dict`` stay stable) and remember how to
say them in another language: :func:`msg` returns a :class:`Msg`, a ``str`` equal to its English
rendering whose :meth:`Msg.localized` renders each piece through the current catalog.

>>> m = msg("{n} rule(s) in {where}", n=2, where="nat PREROUTING") + " " + msg("Owner: {o}.", o="Docker")
>>> str(m), m == "2 rule(s) in nat PREROUTING Owner: Docker."
('2 rule(s) in nat PREROUTING Owner: Docker.', True)
>>> with language("ko"):
...     _("evidence")
'근거'
>>> _("evidence")
'evidence'
"""

from __future__ import annotations

import contextlib
import gettext
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["_", "ngettext", "msg", "nmsg", "Msg", "joined", "localized", "set_language", "get_language", "language",
           "LANGUAGES", "DOMAIN", "LOCALE_DIR"]

DOMAIN = "nfwb"
LOCALE_DIR = Path(__file__).parent / "locale"
#: Languages with a catalog, besides English (the message ids).
LANGUAGES: tuple[str, ...] = ("ko",)
_ENV = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_chosen: str | None = None          # set_language(); None: follow the environment
_cache: dict[tuple, gettext.NullTranslations] = {}


def set_language(lang: str | None) -> None:
    """Speak ``lang`` (``"ko"``, ``"en"``, ``"ko_KR.UTF-8"``…) from now on; None follows the
    environment again. For a notebook: ``workbook.set_language("ko")``.

    >>> set_language("ko"); get_language()
    'ko'
    >>> set_language(None)
    """
    global _chosen
    if lang is not None and not lang.strip():
        raise ValueError("set_language needs a language such as 'ko' or 'en' (or None)")
    _chosen = lang


def _translation() -> gettext.NullTranslations:
    key = (_chosen,) if _chosen is not None else tuple(os.environ.get(k) for k in _ENV)
    t = _cache.get(key)
    if t is None:
        langs = [_chosen] if _chosen is not None else None   # None: gettext reads the environment
        t = gettext.translation(DOMAIN, LOCALE_DIR, languages=langs, fallback=True)
        _cache[key] = t
    return t


def get_language() -> str:
    """``"ko"`` when a Korean catalog is in use, else ``"en"``."""
    info = _translation().info()
    return info.get("language", "en") or "en"


@contextlib.contextmanager
def language(lang: str | None) -> Iterator[None]:
    """Speak ``lang`` inside a ``with`` block only (``None``: follow the environment)."""
    global _chosen
    before = _chosen
    set_language(lang)
    try:
        yield
    finally:
        _chosen = before


def _(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return _translation().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the current language."""
    return _translation().ngettext(singular, plural, n)


class Msg(str):
    """English text (the ``str`` value) that can say itself in the current language.

    Built by :func:`msg`/:func:`nmsg`; ``+`` with another Msg or a plain str keeps the pieces
    (plain strings are shown as they are). Parameters that are Msgs are translated too.
    """

    parts: tuple[tuple, ...]

    def __new__(cls, english: str, parts: tuple[tuple, ...]) -> "Msg":
        self = super().__new__(cls, english)
        self.parts = parts
        return self

    def __add__(self, other: str) -> "Msg":
        if not isinstance(other, str):
            return NotImplemented
        return Msg(str(self) + str(other), self.parts + _parts_of(other))

    def __radd__(self, other: str) -> "Msg":
        if not isinstance(other, str):
            return NotImplemented
        return Msg(str(other) + str(self), _parts_of(other) + self.parts)

    def localized(self) -> str:
        """This text in the current language."""
        out = []
        for part in self.parts:
            kind = part[0]
            if kind == "text":
                out.append(part[1])
            elif kind == "msg":
                out.append(_format(_(part[1]), part[2]))
            else:   # ("plural", singular, plural, n, params)
                out.append(_format(ngettext(part[1], part[2], part[3]), part[4]))
        return "".join(out)

    def __reduce__(self):
        return (Msg, (str(self), self.parts))


def _parts_of(s: str) -> tuple[tuple, ...]:
    return s.parts if isinstance(s, Msg) else (("text", str(s)),)


def _format(template: str, params: dict[str, Any]) -> str:
    return template.format(**{k: v.localized() if isinstance(v, Msg) else v for k, v in params.items()})


def _english(template: str, params: dict[str, Any]) -> str:
    return template.format(**{k: str(v) if isinstance(v, Msg) else v for k, v in params.items()})


def msg(template: str, **params: Any) -> Msg:
    """A message kept in English and translated when shown: ``template`` is a ``str.format``
    template (the gettext message id), ``params`` its values.

    >>> msg("{n} finding(s)", n=3)
    '3 finding(s)'
    """
    return Msg(_english(template, params), (("msg", template, params),))


def nmsg(singular: str, plural: str, n: int, **params: Any) -> Msg:
    """Like :func:`msg`, choosing the singular or plural template by ``n`` (also passed as ``n``).

    >>> nmsg("{n} chain", "{n} chains", 1), nmsg("{n} chain", "{n} chains", 2)
    ('1 chain', '2 chains')
    """
    params = {"n": n, **params}
    return Msg(_english(singular if n == 1 else plural, params), (("plural", singular, plural, n, params),))


def joined(separator: str, items: Iterable[str]) -> str:
    """``separator.join(items)`` that keeps Msg items translatable.

    >>> joined("; ", [msg("a"), "b"])
    'a; b'
    """
    out: str = ""
    for i, item in enumerate(items):
        out = out + separator + item if i else (item if isinstance(item, Msg) else str(item))
    return out


def localized(value: Any) -> str:
    """``value`` in the current language when it is a :class:`Msg`, else ``str(value)``."""
    return value.localized() if isinstance(value, Msg) else str(value)
