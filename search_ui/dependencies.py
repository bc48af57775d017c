"""What views receive: the app's settings, its archive, and the search parameters of the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.templating import Jinja2Templates

from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.query import SearchParams


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_archive(request: Request) -> Archive:
    return request.app.state.archive


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


SettingsDep = Annotated[Settings, Depends(get_settings)]
ArchiveDep = Annotated[Archive, Depends(get_archive)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]


def search_params(params: Annotated[SearchParams, Query()], settings: SettingsDep) -> SearchParams:
    """The request's search parameters, checked against the settings' bounds (documented in OpenAPI)."""
    return params.checked(settings.ui_max_page_size)


SearchParamsDep = Annotated[SearchParams, Depends(search_params)]
