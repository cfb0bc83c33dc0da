"""TwiML for the voice webhook: connect the call to our media WebSocket.

``<Connect><Stream>`` is bidirectional and blocks the rest of the document until our
WebSocket closes. Its URL may not carry a query string, so call context travels as
``<Parameter>`` elements (they come back in the stream's ``start.customParameters``).
The verbs after ``<Connect>`` run only if our stream ends without us hanging up or
transferring the call, i.e. when frontdesk failed: the caller is then put through to the
business's first transfer number, or hears an apology, never dead air.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree as ET


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


def dial(number: str, *, caller_id: str | None = None) -> str:
    """A live call redirected to a human (the transfer action updates the call with it)."""
    response = ET.Element("Response")
    _dial(response, number, caller_id)
    return _document(response)


def _dial(parent: ET.Element, number: str, caller_id: str | None) -> None:
    """``<Dial>``, built with ElementTree so a number holding ``&``, ``<`` or quotes can
    never break (or inject into) the document; a ``sip:`` target needs the ``<Sip>`` noun."""
    element = ET.SubElement(parent, "Dial")
    if caller_id:
        element.set("callerId", caller_id)
    if number.startswith(("sip:", "sips:")):
        ET.SubElement(element, "Sip").text = number
    else:
        element.text = number
