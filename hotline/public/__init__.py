"""Public pages for citizens: no sign-in, nothing of the console."""
