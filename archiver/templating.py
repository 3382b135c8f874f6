"""Jinja2 templates (reports, package READMEs, the site) from ``templates/``."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import jinja2

from .vn import VN


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "_data" / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


def date_vi(value: str) -> str:
    """ISO date or datetime -> dd/mm/yyyy (Vietnam time for datetimes)."""
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.tzinfo is not None:
        when = when.astimezone(VN)
        return when.strftime("%d/%m/%Y %H:%M")
    return when.strftime("%d/%m/%Y") if len(value) <= 10 else when.strftime("%d/%m/%Y %H:%M")


@lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "html.j2", "svg.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["date_vi"] = date_vi
    return env


def render_template(name: str, **context) -> str:
    return environment().get_template(name).render(**context)


def stream_template(name: str, **context) -> Iterator[str]:
    """The rendering in pieces, for pages that list every input of a large archive."""
    return environment().get_template(name).generate(**context)
