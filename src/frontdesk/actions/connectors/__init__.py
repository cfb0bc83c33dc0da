"""Backends that hold bookings: the built-in calendar, CalDAV, a generic REST CRM."""
