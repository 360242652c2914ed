"""werbench: WER error analysis and benchmark dashboard for ASR."""

__version__ = "0.1.0"
