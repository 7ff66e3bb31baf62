"""The browser editor (`reenact ui`): the session's state and callbacks (`session`), and the Gradio page (`page`)."""
