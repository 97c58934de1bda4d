"""Typed errors. Library code raises these; only the CLI turns them into one-line messages."""


class DiscoError(Exception):
    """Base class for user-facing errors: the message names the input and what is wrong."""


class InputError(DiscoError):
    """A user's input (file, SMILES, option) cannot be used."""

    def __init__(self, item: str, reason: str):
        self.item = str(item)
        self.reason = reason
        super().__init__(f"{self.item}: {reason}")


class CheckpointError(DiscoError):
    """A checkpoint file is missing, corrupted or not one of ours."""
