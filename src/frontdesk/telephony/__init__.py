"""Carrier edges: Twilio and Telnyx media streams, webhooks and REST actions."""
