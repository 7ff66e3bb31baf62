"""Facial Action Coding System terms: action units on the canonical face, and reading them from a track.

`units` defines each action unit (AU) as a displacement field on MediaPipe's
canonical mesh; `reading` estimates their intensities frame by frame from a
track. Edits that set AUs live with the other edits (`reenact.edits`).
"""
