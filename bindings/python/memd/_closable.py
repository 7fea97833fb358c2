"""Closable: `with` and garbage collection for objects that own a socket."""


class Closable:
    """A base for classes with an idempotent close(): `with obj:` closes it
    on the way out, and so does garbage collection (quietly)."""

    def close(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
