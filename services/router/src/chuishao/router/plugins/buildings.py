"""Residential buildings beyond the property firm: group rentals and lifts."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
