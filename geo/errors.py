"""Error hierarchy shared by every kaartlaag package.

Library code raises these; the web service maps them to HTTP status codes in
one table (``services``), and the CLI prints them as one readable line with a
non-zero exit. Never raise ``HTTPException`` outside ``services``.
"""

from __future__ import annotations


class KaartlaagError(Exception):
    """Base class of every error kaartlaag raises on purpose."""


class ConfigError(KaartlaagError):
    """A region config is invalid; the message names the key path."""


class SourceError(KaartlaagError):
    """A source file cannot be used.

    Args:
        path: the file (or folder) that was read.
        problem: what is wrong, written for a person.
        feature: id of the offending feature, when one is to blame.
    """

    def __init__(self, path: object, problem: str, feature: object | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.feature = None if feature is None else str(feature)
        where = self.path if self.feature is None else f"{self.path}, feature {self.feature}"
        super().__init__(f"{where}: {problem}")


class CRSError(SourceError):
    """A source has no CRS, or one that cannot be transformed to the region CRS."""


class LayerError(KaartlaagError):
    """A layer cannot be computed with the inputs or parameters given."""


class NotFoundError(KaartlaagError):
    """A layer, version or file asked for does not exist (or is not visible)."""


class PublishError(KaartlaagError):
    """Publishing to the catalog failed; the previous version stays served."""


class InputError(KaartlaagError):
    """A site, a scenario edit or an uploaded file is malformed; the message names the field or the feature.

    The web service answers 400 (see ``services.errors.STATUS_CODES``); the CLI prints the message.
    """


class InputTooLargeError(InputError):
    """A site or an upload exceeds a size limit (area, vertices, features, bytes); the service answers 413."""
