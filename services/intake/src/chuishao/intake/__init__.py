"""Intake: the front door. Every change to a ticket enters here."""
