"""Business profiles: the validated YAML description of each business frontdesk answers for."""

from frontdesk.profile.describe import describe_hours, speak_time
from frontdesk.profile.loader import (
    ProfileError,
    example_profile_text,
    load_profile,
    parse_profile,
    write_example,
)
from frontdesk.profile.models import (
    WEEKDAYS,
    Business,
    ConsistencyError,
    EngineSettings,
    Holiday,
    Hours,
    Interval,
    Policies,
    Profile,
    Providers,
    Resource,
    Service,
    StubTimings,
    TransferNumber,
)
from frontdesk.profile.registry import ProfileRegistry, RegistryError, normalise_number

__all__ = [
    "WEEKDAYS",
    "Business",
    "ConsistencyError",
    "EngineSettings",
    "Holiday",
    "Hours",
    "Interval",
    "Policies",
    "Profile",
    "ProfileError",
    "ProfileRegistry",
    "Providers",
    "RegistryError",
    "Resource",
    "Service",
    "StubTimings",
    "TransferNumber",
    "describe_hours",
    "example_profile_text",
    "load_profile",
    "normalise_number",
    "parse_profile",
    "speak_time",
    "write_example",
]
