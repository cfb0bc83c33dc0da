"""All businesses one server answers for, looked up by dialled number or by id.

An inbound call carries only the number that was dialled, so that number must map to
exactly one business: duplicates are refused when the registry is built, not discovered
when a caller reaches the wrong shop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from frontdesk.profile.loader import load_profile
from frontdesk.profile.models import Profile

__all__ = ["ProfileRegistry", "RegistryError", "normalise_number"]

_PUNCTUATION = re.compile(r"[\s().-]")


class RegistryError(ValueError):
    """Two profiles claim the same business id or phone number."""


def normalise_number(number: str) -> str:
    """Drop the spaces, dashes, dots and parentheses some carriers leave in numbers."""
    return _PUNCTUATION.sub("", number)


class ProfileRegistry:
    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._by_id: dict[str, Profile] = {}
        self._by_number: dict[str, Profile] = {}
        for profile in profiles:
            business_id = profile.business.id
            if business_id in self._by_id:
                raise RegistryError(f"duplicate business id {business_id!r}")
            self._by_id[business_id] = profile
            for number in profile.business.phone_numbers:
                other = self._by_number.get(number)
                if other is not None:
                    raise RegistryError(
                        f"phone number {number} belongs to both {other.business.id!r} "
                        f"and {business_id!r}"
                    )
                self._by_number[number] = profile

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> ProfileRegistry:
        """Load every file; the first invalid one raises its ``ProfileError``."""
        return cls(load_profile(p) for p in paths)

    @classmethod
    def from_directory(cls, directory: str | Path) -> ProfileRegistry:
        """Every ``*.yaml`` / ``*.yml`` file in ``directory``, in name order."""
        root = Path(directory)
        return cls.from_paths(sorted([*root.glob("*.yaml"), *root.glob("*.yml")]))

    def by_number(self, dialled: str) -> Profile:
        """The business answering ``dialled``; ``KeyError`` if none does."""
        return self._by_number[normalise_number(dialled)]

    def by_id(self, business_id: str) -> Profile:
        """The business with this id; ``KeyError`` if unknown."""
        return self._by_id[business_id]

    def get_by_number(self, dialled: str) -> Profile | None:
        return self._by_number.get(normalise_number(dialled))

    def get_by_id(self, business_id: str) -> Profile | None:
        return self._by_id.get(business_id)

    @property
    def ids(self) -> list[str]:
        return list(self._by_id)

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, business_id: object) -> bool:
        return business_id in self._by_id
