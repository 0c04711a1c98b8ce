"""SLA: clocks on every ticket, warnings and escalations up the ladder."""
