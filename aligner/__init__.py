"""The one aligner (sclite-identical word and character alignment), just above ``manifests`` (whose errors it
raises) and below every layer that aligns, so that tuning, scoring, reports and the dashboard all count errors
with the same code."""
