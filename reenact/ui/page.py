"""The browser editor's Gradio page: its layout, and the wiring of each control to `EditorSession`.

Every callback turns a `ReenactError` into a warning on the page and a line in
its message box (never a stack trace). Each endpoint has an `api_name`, so that
`gradio_client` (the tests) drives the page as a browser does: `/open`,
`/edits` (controls -> edits-file text), `/preview`, `/render`, `/save_edits`
and `/load_edits`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from reenact import api, edits_file
from reenact.edits import AU_MODES, EYES
from reenact.errors import ReenactError
from reenact.facs.reading import MAX_INTENSITY
from reenact.facs.units import EMOTIONS
from reenact.recombine import MODES
from reenact.ui.session import AU_COLUMNS, EMOTION_COLUMNS, NO_EYE, Controls, EditorSession, Mix

TITLE = "reenact: browser editor"
NOTICE = ("Reenactment of real people is powerful. Use it only with the consent of the people shown; every "
          "video rendered here is labelled synthetic in its metadata.")
FONTS = ("system-ui", "sans-serif")
"""Fonts the page uses: the machine's own (the default theme would fetch web fonts, and nothing can be fetched
here)."""


def _warn(error: Exception) -> str:
    """Show `error` on the page as a warning; the line for the message box."""
    line = " ".join(str(error).split())
    gr.Warning(line)
    return f"error: {line}"


def progress_bars(progress: gr.Progress) -> api.Bars:
    """`api.Bars` drawn by the page's progress bar."""

    @contextlib.contextmanager
    def bars(description: str, total: int | None) -> Iterator[Callable[[int], object]]:
        done = 0
        progress(0.0 if total else None, desc=description)

        def update(frames: int) -> None:
            nonlocal done
            done += frames
            progress((done, total) if total else None, desc=description, unit="frames")

        yield update

    return bars


def _keyframes(label: str) -> tuple[gr.Number, gr.Number, gr.Number]:
    """An edit's start, full and release frames (full blank: at once; release blank: held to the end)."""
    with gr.Row():
        return (gr.Number(0, label=f"{label}: start frame", precision=0, minimum=0),
                gr.Number(None, label="full from frame (blank: at start)", precision=0, minimum=0),
                gr.Number(None, label="release from frame (blank: never)", precision=0, minimum=0))


def build_page(session: EditorSession, model: str = "", target: str = "", source: str = "") -> gr.Blocks:
    """The page for `session`, its model and clip fields filled with `model`, `target` and `source`."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        gr.Markdown(f"## {TITLE}\n{NOTICE}")
        with gr.Row():
            model_box = gr.Textbox(model, label="model folder", placeholder="models/NAME", scale=3)
            target_box = gr.Textbox(target, label="target clip", placeholder="clip.mp4", scale=3)
            source_box = gr.Textbox(source, label="source clip (optional: drives the target)", scale=3)
            open_button = gr.Button("Open", variant="primary", scale=1)
        message = gr.Textbox(label="messages", interactive=False, lines=1, elem_id="messages")
        frame = gr.Slider(0, 1, value=0, step=1, label="frame", elem_id="frame")
        with gr.Row():
            original = gr.Image(label="original", interactive=False, elem_id="original", format="png")
            overlay = gr.Image(label="conditioning (crop window, edit mask outline)", interactive=False,
                               elem_id="conditioning", format="png")
            rendered = gr.Image(label="re-rendered", interactive=False, elem_id="rendered", format="png")

        with gr.Accordion("edits (each eased in from its start to its full frame, out from its release)", open=True):
            with gr.Row():
                smile = gr.Slider(-1.0, 1.5, value=0.0, step=0.05, label="smile (1: the target's biggest; "
                                                                          "negative frowns)", elem_id="smile")
            smile_times = _keyframes("smile")
            with gr.Row():
                eye = gr.Radio([NO_EYE, *EYES], value=NO_EYE, label="eye to open or close (the subject's own side)")
                openness = gr.Slider(0.0, 0.4, value=0.0, step=0.01, label="its openness (0: closed)")
            eye_times = _keyframes("eye")
            with gr.Row():
                yaw = gr.Slider(-30, 30, value=0, step=0.5, label="head yaw (degrees)")
                pitch = gr.Slider(-30, 30, value=0, step=0.5, label="head pitch")
                roll = gr.Slider(-30, 30, value=0, step=0.5, label="head roll")
            head_times = _keyframes("head turn")
            with gr.Row():
                look = gr.Checkbox(False, label="set the gaze")
                look_x = gr.Slider(-1.0, 1.0, value=0.0, step=0.05, label="gaze x (half eye widths, to the "
                                                                          "subject's left)")
                look_y = gr.Slider(-1.0, 1.0, value=0.0, step=0.05, label="gaze y (up)")
            look_times = _keyframes("gaze")
            action_units = gr.Dataframe(
                headers=list(AU_COLUMNS), datatype=["str", "number", "str", "number", "number", "number"],
                value=[["", None, AU_MODES[0], 0, 0, None]], row_count=1, type="array", interactive=True,
                label=f"action units (12, L12, 45, ...; intensity 0..{MAX_INTENSITY:g}; mode {' or '.join(AU_MODES)}; "
                      "frames; add rows as needed)")
            emotions = gr.Dataframe(
                headers=list(EMOTION_COLUMNS), datatype=["str", "number", "str", "number", "number", "number"],
                value=[["", None, AU_MODES[0], 0, 0, None]], row_count=1, type="array", interactive=True,
                label=f"emotions ({', '.join(EMOTIONS)}: their action units set to the amount)")
        with gr.Accordion("source (with a source clip): what it drives", open=False), gr.Row():
            mode = gr.Radio(list(MODES), value="full", label="mode")
            mouth = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="mouth")
            eyes = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="eyes")
            brows = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="brows")
            intensity = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="intensity")
        with gr.Row():
            edits_text = gr.Code(edits_file.dumps([]), language="json",
                                 label="the edits file (what is previewed, saved and rendered)", interactive=False,
                                 elem_id="edits-file")
            with gr.Column():
                save_button = gr.Button("Save edits")
                saved = gr.File(label="edits file to download", interactive=False)
                to_load = gr.File(label="load an edits file", file_types=[".json"], type="filepath")
        render_button = gr.Button("Render the whole clip", variant="primary")
        with gr.Row():
            original_video = gr.Video(label="original", interactive=False)
            result_video = gr.Video(label="result (labelled synthetic)", interactive=False)
        result_file = gr.File(label="result to download", interactive=False)

        controls = [smile, *smile_times, eye, openness, *eye_times, yaw, pitch, roll, *head_times, look, look_x,
                    look_y, *look_times, action_units, emotions]
        mix_controls = [mode, mouth, eyes, brows, intensity]

        def on_open(model_path: str, target_path: str, source_path: str):
            try:
                opened = session.open(model_path, target_path, source_path)
            except ReenactError as e:
                return _warn(e), gr.update(), gr.update()
            return (opened.summary, gr.update(maximum=max(1, opened.n_frames - 1), value=0),
                    str(opened.original_video))

        def on_start():
            """A page opened after the command opened its --model and --target: show them."""
            opened = session.opened
            if opened is None:
                return gr.update(), gr.update(), gr.update()
            return (opened.summary, gr.update(maximum=max(1, opened.n_frames - 1), value=0),
                    str(opened.original_video))

        def on_controls(*values):
            try:
                return edits_file.dumps(Controls(*values).entries()), ""
            except ReenactError as e:
                return gr.update(), _warn(e)

        def on_preview(index: float, text: str, *mix_values):
            try:
                shown = session.preview(int(index), text, Mix(*mix_values))
            except ReenactError as e:
                return gr.update(), gr.update(), gr.update(), _warn(e)
            seconds = int(index) / session.previewer.frames.reader.fps
            return (shown.original, shown.conditioning, shown.rendered,
                    f"frame {int(index)} ({seconds:.2f} s) drawn in {1000 * shown.seconds:.0f} ms")

        def on_render(text: str, *mix_values, progress=gr.Progress()):  # noqa: B008 - Gradio injects its bar so  # noqa: B008 - how Gradio injects its bar
            try:
                output, line = session.render(text, Mix(*mix_values), bars=progress_bars(progress))
            except ReenactError as e:
                return gr.update(), gr.update(), _warn(e)
            return str(output), str(output), f"{line} -> {output.name}"

        def on_save(text: str):
            try:
                return str(session.save_edits(text)), ""
            except ReenactError as e:
                return gr.update(), _warn(e)

        def on_load(path: str | None):
            if not path:
                return [gr.update()] * (len(controls) + 1) + [""]
            try:
                loaded, text = session.load_edits(Path(path))
            except ReenactError as e:
                return [gr.update()] * (len(controls) + 1) + [_warn(e)]
            values = loaded.values()
            values[-2] = values[-2] or [["", None, AU_MODES[0], 0, 0, None]]
            values[-1] = values[-1] or [["", None, AU_MODES[0], 0, 0, None]]
            return [*values, text, f"loaded {Path(path).name}"]

        preview_inputs = [frame, edits_text, *mix_controls]
        preview_outputs = [original, overlay, rendered, message]
        open_button.click(on_open, [model_box, target_box, source_box], [message, frame, original_video],
                          api_name="open").then(on_preview, preview_inputs, preview_outputs, api_visibility="private")
        # One endpoint per callback for clients (`gradio_client`, the tests); the same callback on every other
        # control stays private.
        page.load(on_start, None, [message, frame, original_video], api_visibility="private").then(
            on_preview, preview_inputs, preview_outputs, api_visibility="private")
        for number, control in enumerate(controls):
            control.change(on_controls, controls, [edits_text, message], trigger_mode="always_last",
                           api_name="edits" if number == 0 else None,
                           api_visibility="public" if number == 0 else "private")
        for number, trigger in enumerate((frame, edits_text, *mix_controls)):
            trigger.change(on_preview, preview_inputs, preview_outputs, trigger_mode="always_last",
                           api_name="preview" if number == 0 else None,
                           api_visibility="public" if number == 0 else "private")
        render_button.click(on_render, [edits_text, *mix_controls], [result_video, result_file, message],
                            api_name="render")
        save_button.click(on_save, [edits_text], [saved, message], api_name="save_edits")
        to_load.change(on_load, [to_load], [*controls, edits_text, message], api_name="load_edits")
    return page


def serve(page: gr.Blocks, session: EditorSession, host: str = "127.0.0.1", port: int = 7860,
          block: bool = True) -> str:
    """Serve `page` on `host`:`port` (only the session's workdir is served as files) and return its address;
    `block`: until Ctrl-C, else in the background (tests; `page.close()` stops it)."""
    theme = gr.themes.Default(font=list(FONTS), font_mono=["ui-monospace", "monospace"])
    page.queue().launch(server_name=host, server_port=port, allowed_paths=[str(session.workdir)], quiet=True,
                        footer_links=[], theme=theme, prevent_thread_lock=not block, show_error=False)
    return page.local_url or f"http://{host}:{port}/"
