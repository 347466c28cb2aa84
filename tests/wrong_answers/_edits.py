"""Shared by the wrong-answer files (skipped as a file of its own: its name starts with "_")."""


def variant(source: str, *edits: tuple[str, str]) -> str:
    """source with each (old, new) edit applied; old must occur exactly once."""
    for old, new in edits:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
        source = source.replace(old, new)
    return source
