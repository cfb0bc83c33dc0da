"""Loading profiles from YAML with errors a shop owner can act on.

Bad input is a typed error at the edge: every problem (YAML syntax, a missing file, a
wrong value deep in the tree) becomes a :class:`ProfileError` naming the file, the field
path as written in the YAML (``services[1].duration_minutes``) and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from frontdesk.profile.models import ConsistencyError, Profile

__all__ = ["ProfileError", "example_profile_text", "load_profile", "parse_profile", "write_example"]


class ProfileError(ValueError):
    """A profile that cannot be used. ``errors`` holds ``(field, reason)`` pairs.

    ``field`` is a dotted path (``hours.monday[0]``), ``line N`` for YAML syntax errors,
    or ``""`` when the whole file is at fault (missing, not a mapping).
    """

    def __init__(
        self,
        path: str | Path,
        field: str = "",
        reason: str = "",
        *,
        errors: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.path = str(path)
        self.errors: list[tuple[str, str]] = list(errors) if errors else [(field, reason)]
        super().__init__(str(self))

    @property
    def field(self) -> str:
        return self.errors[0][0]

    @property
    def reason(self) -> str:
        return self.errors[0][1]

    def __str__(self) -> str:
        return "\n".join(
            f"{self.path}: {field}: {reason}" if field else f"{self.path}: {reason}"
            for field, reason in self.errors
        )


def _loc(parts: Sequence[int | str]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _flatten(exc: ValidationError) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for err in exc.errors():
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, ConsistencyError):
            # Cross-field checks carry their own absolute paths.
            errors.extend(cause.issues)
        elif isinstance(cause, ValueError):
            errors.append((_loc(err["loc"]), str(cause)))
        elif err["type"] == "extra_forbidden":
            errors.append((_loc(err["loc"]), "unknown field (check the spelling)"))
        else:
            errors.append((_loc(err["loc"]), err["msg"]))
    return errors


def parse_profile(text: str, path: str | Path = "<profile>") -> Profile:
    """Validate YAML text; ``path`` is only used in error messages."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            raise ProfileError(
                path, f"line {mark.line + 1}", f"invalid YAML: {problem} (column {mark.column + 1})"
            ) from None
        raise ProfileError(path, "", f"invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ProfileError(path, "", f"expected a mapping at the top level, found {found}")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(path, errors=_flatten(exc)) from None


def load_profile(path: str | Path) -> Profile:
    """Read and validate one profile file; raises :class:`ProfileError` for any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(path, "", f"cannot read file: {exc}") from None
    return parse_profile(text, path)


def example_profile_text() -> str:
    """The shipped example profile (Main Street Auto), as YAML text."""
    return resources.files("frontdesk.profile").joinpath("example.yaml").read_text("utf-8")


def write_example(path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the example profile for ``frontdesk init``; never clobbers by accident."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; choose another path or pass overwrite=True (--force)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example_profile_text(), encoding="utf-8")
    return target
