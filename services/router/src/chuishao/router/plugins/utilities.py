"""Utilities (水电气) and drainage: supply problems go to the utility company that runs the
network; a leak, a smell of gas or sparking wires now is emergency_hazard, not these."""

from chuishao.router.plugins.rules import declared_plugin

plugin = declared_plugin(__name__)
