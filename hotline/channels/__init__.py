"""Citizen channels beyond the phone: LINE (webhook, conversation, the LINE adapter)."""
