"""A file written whole or not at all: through a fresh hidden file beside it, renamed at the end.

The hidden file is made by ``tempfile.mkstemp``: an unpredictable name, created
with O_EXCL (it never opens a file or link that was there before) and written
through the descriptor it returned, never reopened by name. A fixed name such as
``.NAME.partial`` let anyone who could write in the folder plant a link there and
have an export overwrite the file it pointed to (dbnb issue #22). On any error,
Ctrl-C included, the hidden file is removed and an older target stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _default_mode() -> int:
    # What a plain new file gets (0666 less the umask), not mkstemp's 0600. Read once,
    # at import: setting the umask to learn it is not safe beside other threads.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _default_mode()


@contextlib.contextmanager
def replacing(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write; it becomes ``target`` when the block ends without error.

    ``OSError`` (a missing folder, no permission, a full disk) is the caller's to word.
    """
    target = Path(target)
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
    )
    try:
        with open(descriptor, "wb") as file:
            yield file
            os.fchmod(file.fileno(), _MODE)
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
