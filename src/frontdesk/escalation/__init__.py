"""Escalation by hard rules: detectors run on every caller utterance before the brain."""

from frontdesk.escalation.classify import scores
from frontdesk.escalation.detect import BELOW_THRESHOLD, Hit, detect

__all__ = ["BELOW_THRESHOLD", "Hit", "detect", "scores"]
