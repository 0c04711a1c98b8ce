"""Ecology and the environment: rivers and lakes (河长制), construction-site noise and
dust, air pollution. Noise from shops stays oil_fumes_noise (environment.py)."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
