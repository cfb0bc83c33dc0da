"""Twilio: signed webhooks, TwiML, Media Streams, REST actions."""
