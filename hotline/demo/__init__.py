"""The embedded demo: demo data, the phone simulator and its page, the demo's media host."""
