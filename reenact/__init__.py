"""reenact: a source actor's head pose, expression and gaze drive a per-target video generator."""

__version__ = "0.1.0"
