"""The call-centre domain, with no Flask: calls, call events, the call-log rules and buffer, the
queue and agent states, the desk's rules, and filing a call's ticket."""
