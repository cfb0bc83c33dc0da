"""frontdesk: a self-hosted AI receptionist."""
