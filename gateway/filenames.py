"""The gateway's file name sanitizer: the one every service shares (``common.filenames``)."""

from common.filenames import sanitize_filename

__all__ = ["sanitize_filename"]
