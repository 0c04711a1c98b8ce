"""Router: decides which units must act on a ticket, through category plugins."""
