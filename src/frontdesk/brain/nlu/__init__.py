"""Deterministic natural-language understanding for the receptionist brain.

Pure functions over one Whisper transcript: no model, no I/O, no clock (callers pass
``now``). Each module's docstring states its rules.
"""

from .intents import Intent, affirmation, detect_intent
from .names import extract_name
from .phone import extract_phone
from .services import ServiceLike, match_service
from .when import When, parse_when

__all__ = [
    "Intent",
    "ServiceLike",
    "When",
    "affirmation",
    "detect_intent",
    "extract_name",
    "extract_phone",
    "match_service",
    "parse_when",
]
