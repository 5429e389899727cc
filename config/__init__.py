"""Settings, logging and server configuration: the only package that reads the environment."""

from config.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError"]
