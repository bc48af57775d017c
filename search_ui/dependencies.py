"""What views receive: the app's settings, its archive, the relevance bands and the search parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.templating import Jinja2Templates

from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.query import RelevanceBands, SearchParams


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_archive(request: Request) -> Archive:
    return request.app.state.archive


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


SettingsDep = Annotated[Settings, Depends(get_settings)]
ArchiveDep = Annotated[Archive, Depends(get_archive)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]


def get_bands(settings: SettingsDep) -> RelevanceBands:
    """The relevance bands of the settings (their names and score ranges, shown on the pages)."""
    return RelevanceBands.from_settings(settings)


BandsDep = Annotated[RelevanceBands, Depends(get_bands)]


def search_params(params: Annotated[SearchParams, Query()], settings: SettingsDep) -> SearchParams:
    """The request's search parameters, checked against the settings' bounds (documented in OpenAPI)."""
    return params.checked(settings.ui_max_page_size, settings.ui_max_filter_values)


SearchParamsDep = Annotated[SearchParams, Depends(search_params)]
