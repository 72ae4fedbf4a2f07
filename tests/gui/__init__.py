"""Tests of the desktop studio (pytest-qt, offscreen)."""
