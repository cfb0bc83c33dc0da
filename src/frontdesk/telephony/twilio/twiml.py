"""TwiML for the voice webhook: connect the call to our media WebSocket.

``<Connect><Stream>`` is bidirectional and blocks the rest of the document until our
WebSocket closes. Its URL may not carry a query string, so call context travels as
``<Parameter>`` elements (they come back in the stream's ``start.customParameters``).
The verbs after ``<Connect>`` run only if our stream ends without us hanging up or
transferring the call, i.e. when frontdesk failed: the caller is then put through to the
business's first transfer number, or hears an apology, never dead air.

A transfer is a ``<Dial>`` with an ``action`` URL: Twilio requests it when the dialled
leg ends (``DialCallStatus``), so a person who is busy or does not answer hands the caller
back to us instead of losing them. A warm transfer's ``<Number url>`` is fetched when the
person picks up and played to them alone (the whisper) before the caller is bridged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class DialCallbacks:
    """What makes a ``<Dial>`` report back: ``action_url`` gets the outcome after at most
    ``timeout_s`` of ringing; ``whisper_url`` (a warm transfer) is what the person hears."""

    action_url: str
    timeout_s: int
    whisper_url: str | None = None


def _document(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def connect_stream(
    stream_url: str,
    parameters: Mapping[str, str],
    *,
    fallback_number: str | None,
    fallback_caller_id: str | None = None,
) -> str:
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    stream = ET.SubElement(connect, "Stream", url=stream_url)
    for name, value in parameters.items():
        ET.SubElement(stream, "Parameter", name=name, value=value)
    if fallback_number:
        _dial(response, fallback_number, fallback_caller_id)
    else:
        say = ET.SubElement(response, "Say")
        say.text = "Sorry, we are having trouble answering right now. Please call back shortly."
        ET.SubElement(response, "Hangup")
    return _document(response)


def not_in_service() -> str:
    """For a number no business profile owns."""
    response = ET.Element("Response")
    say = ET.SubElement(response, "Say")
    say.text = "The number you have called is not in service."
    ET.SubElement(response, "Hangup")
    return _document(response)


def dial(number: str, *, caller_id: str | None = None,
         callbacks: DialCallbacks | None = None) -> str:
    """A live call redirected to a human (the transfer action updates the call with it)."""
    response = ET.Element("Response")
    _dial(response, number, caller_id, callbacks)
    return _document(response)


def say(text: str) -> str:
    """The whisper: words for the person who answers a warm transfer, before the bridge."""
    response = ET.Element("Response")
    ET.SubElement(response, "Say").text = text
    return _document(response)


def hangup() -> str:
    """The answer to a dial that was taken: the person and the caller talked, it is over."""
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _document(response)


def _dial(parent: ET.Element, number: str, caller_id: str | None,
          callbacks: DialCallbacks | None = None) -> None:
    """``<Dial>``, built with ElementTree so a number holding ``&``, ``<`` or quotes can
    never break (or inject into) the document; a ``sip:`` target needs the ``<Sip>`` noun.
    With callbacks the target is a ``<Number>`` noun, the element that carries ``url``."""
    element = ET.SubElement(parent, "Dial")
    if callbacks is not None:
        element.set("action", callbacks.action_url)
        element.set("method", "POST")
        element.set("timeout", str(callbacks.timeout_s))
    if caller_id:
        element.set("callerId", caller_id)
    if number.startswith(("sip:", "sips:")):
        noun = ET.SubElement(element, "Sip")
    elif callbacks is not None:
        noun = ET.SubElement(element, "Number")
    else:
        element.text = number
        return
    noun.text = number
    if callbacks is not None and callbacks.whisper_url:
        noun.set("url", callbacks.whisper_url)
        noun.set("method", "POST")
