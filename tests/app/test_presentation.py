"""Presentation mode lives in the URL (``?present=1``) as well as the sidebar toggle, in both directions.

Streamlit's AppTest runs the real app in-process; a fresh AppTest is a fresh browser
session, as a reload is. The browser test (test_presentation_browser.py) checks the
same in Chromium, with the layout at 1024×768.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.conftest import MAIN


def present(at: AppTest) -> str | None:
    """The URL's ``present`` parameter after the last run, or None."""
    value = at.query_params.get("present")
    return value[0] if isinstance(value, list) and value else value or None


def css(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown if "<style>" in m.value)


def open_app(page: str | None = None, **params) -> AppTest:
    """A fresh session (a reload) opening ``page`` (default: Launch) with the URL's ``params``."""
    at = AppTest.from_file(MAIN, default_timeout=60)
    if page:
        at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def test_a_link_with_present_opens_in_presentation_mode(home):
    at = open_app(present="1")
    assert not at.exception, at.exception
    assert at.toggle(key="presentation").value is True
    assert "font-size: 3.2rem" in css(at)  # the large type is on the page
    assert present(at) == "1"


def test_without_the_parameter_the_page_is_in_screen_mode(home):
    at = open_app()
    assert at.toggle(key="presentation").value is False
    assert "font-size: 3.2rem" not in css(at) and present(at) is None


def test_the_toggle_writes_the_url_and_turning_it_off_removes_the_parameter(home):
    at = open_app()
    at.toggle(key="presentation").set_value(True).run()
    assert present(at) == "1"
    assert at.query_params.get("recipe")  # the Launch page's own parameters stay beside it
    at.toggle(key="presentation").set_value(False).run()
    assert present(at) is None
    assert "font-size: 3.2rem" not in css(at)


def test_a_page_that_rewrites_its_query_keeps_the_parameter(populated):
    # Compare replaces its whole query with the group it shows; `present` must survive that.
    at = open_app("views/compare.py", group="g1", present="1")
    assert not at.exception, at.exception
    assert present(at) == "1" and at.query_params.get("group") in ("g1", ["g1"])


def test_a_page_switch_button_carries_the_parameter(populated):
    at = open_app("views/live.py", run=populated["baseline"], present="1")
    at.button(key=f"cmp:{populated['baseline']}").click().run()  # "Compare…": ui.go to Compare
    assert not at.exception, at.exception
    assert present(at) == "1"
    assert at.query_params.get("runs") in (populated["baseline"], [populated["baseline"]])


def test_presentation_mode_draws_one_chart_a_row(populated):
    # Two charts a row are two columns holding a chart each; presentation mode has no such columns.
    screen = open_app("views/compare.py", group="g1")
    shown = open_app("views/compare.py", group="g1", present="1")
    assert len(screen.get("plotly_chart")) == len(shown.get("plotly_chart")) >= 3

    def charts_in_columns(at: AppTest) -> int:
        return sum(len(col.get("plotly_chart")) for col in at.columns)

    assert charts_in_columns(screen) >= 2
    assert charts_in_columns(shown) == 0
