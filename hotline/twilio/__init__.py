"""Every /twilio/* URL behind one router and one failure policy: voice, the agent's leg,
messaging and recording status; the sealed call state; the REST and media adapter."""
