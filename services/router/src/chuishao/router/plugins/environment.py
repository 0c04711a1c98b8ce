"""Nuisances from shops and people: oil fumes and noise, uncivilised behaviour."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
