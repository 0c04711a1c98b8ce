"""Supervision (督办 · 研判): projections of the ticket stream — the three rates, on-time
rates, closure, bounces, whistles — per unit, street, category, grid and day; hotspot
early warning; the command-centre page."""
