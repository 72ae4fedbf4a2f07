"""Errors that reach the user as one clear line (the command line prints str(error))."""


class GenaeError(Exception):
    """Base class: the message alone must say what went wrong and where."""


class UsageError(GenaeError):
    """Bad arguments or options."""


class DataError(GenaeError):
    """A dataset path, layout or file that cannot be used."""


class CheckpointError(GenaeError):
    """A run folder or checkpoint file that is missing, corrupt or foreign."""


class PluginError(GenaeError):
    """A plugin that cannot be imported or misbehaves."""


class TrainingDiverged(GenaeError):
    """A loss turned NaN or infinite."""


class Cancelled(GenaeError):
    """Work stopped because the caller asked for it."""
