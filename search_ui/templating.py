"""The Jinja2 templates of the pages (autoescaping on) with the project's filters."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from fastapi.templating import Jinja2Templates

from search_ui import render

HERE = Path(__file__).resolve().parent


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    env.filters["date"] = render.fmt_date
    env.filters["datetime"] = lambda v: render.fmt_date(v, with_time=True)
    env.filters["hl"] = render.highlight_html
    env.filters["safe_url"] = render.safe_url
    env.filters["path_part"] = lambda v: quote(str(v or ""), safe="")   # an id as one path segment of a link
    env.globals["render_ms"] = lambda request: f"{(time.perf_counter() - request.state.started) * 1000:.0f}"
    return templates
