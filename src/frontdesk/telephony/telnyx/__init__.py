"""Telnyx: Ed25519-signed webhooks, Call Control, media streaming, REST actions."""
