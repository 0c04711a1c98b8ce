"""`make demo`: the brief's stories played against the running stack with an accelerated
clock — 52 stack hours in about a minute — in a live terminal table and on the
command-centre page."""
