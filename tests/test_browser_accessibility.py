"""Every page, as its users see it, passes axe-core's WCAG 2.2 AA rules at desktop and phone sizes.

The tour (tests/tour.py) opens each page as the person it is for: login, the dashboards of an admin, a
teacher and a student, Users, Settings, any page it does not know by name, the classroom live with a
teacher and a student on fake cameras (and being recorded), Recorded Classes with a recording in progress
and a finished one. At each state, the page is checked at 1280x720 and at 375x812; a serious or critical
violation anywhere fails the test, which lists all of them at once; so do two WCAG criteria axe does not
check: a page that scrolls sideways on the phone (1.4.10 Reflow) and a control hidden entirely under a fixed
or sticky part of the page when it takes focus (2.4.11 Focus Not Obscured).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.accessibility import assert_accessible, assert_focus_not_obscured, assert_reflows
from tests.browser import chromium
from tests.live_server import LiveServer, live_server
from tests.netns import require_private_namespace
from tests.tour import (
    ADMIN_PASSWORD,
    PAGE_ERRORS,
    TEACHER,
    School,
    at_each_size,
    open_page,
    set_up_school,
    settled,
    tour,
)

# One server, school and browser for the module: setting up the school is most of a test's time.
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
# States the tour must reach for the check to mean "every page" (it reaches more: see tests/tour.py).
EVERY_KIND_OF_PAGE = {
    "login",
    "classrooms-admin",
    "classrooms-teacher",
    "classrooms-student",
    "users",
    "settings-teacher",
    "settings-student",
    "classroom-teacher",
    "classroom-student",
    "classroom-teacher-recording",
    "recordings-in-progress",
    "recordings",
}


Check = Callable[..., Awaitable[None]]


def checks(size: str) -> list[Check]:
    """axe and focus at every size; reflow (no sideways scrolling) where it matters, on the phone."""
    found: list[Check] = [assert_accessible, assert_focus_not_obscured]
    return [*found, assert_reflows] if size == "375x812" else found


@pytest.fixture(autouse=True)
def _namespace() -> None:
    require_private_namespace()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    # Three browsers and the recorder robot share the machine: seconds, not milliseconds.
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the test modules that follow


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    data = tmp_path_factory.mktemp("accessibility") / "data"
    async with live_server(data, {"AULA_ADMIN_PASSWORD": ADMIN_PASSWORD}) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def school(server: LiveServer) -> School:
    return await set_up_school(server.url)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_every_page_has_no_serious_accessibility_violation_at_desktop_and_phone_size(
    school: School, browser: Browser
) -> None:
    failures: list[str] = []

    async def visit(page: Page, name: str) -> None:
        async def check(size: str) -> None:
            for check_page in checks(size):
                try:
                    await check_page(page, context=f"{name} at {size}")
                except AssertionError as failure:
                    failures.append(str(failure))

        await at_each_size(page, check)

    PAGE_ERRORS.clear()
    try:
        seen = await tour(browser, school, visit)
    finally:
        assert PAGE_ERRORS == [], "the pages threw or logged errors"
    assert set(seen) >= EVERY_KIND_OF_PAGE
    assert not failures, "\n\n".join(failures)


async def test_the_first_tab_reaches_skip_to_main_content_and_enter_moves_focus_to_main(
    school: School, browser: Browser
) -> None:
    page = await open_page(browser, school.url, TEACHER)
    skip = page.get_by_role("link", name="Skip to main content")
    for path in ("/classrooms", "/settings", "/resources/recordings"):
        await page.goto(f"{school.url}{path}")
        await settled(page)
        await expect(skip).not_to_be_in_viewport()  # out of sight until the keyboard reaches it
        await page.keyboard.press("Tab")
        await expect(skip).to_be_focused()
        await expect(skip).to_be_in_viewport()
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()
        await expect(skip).not_to_be_in_viewport()
        if path == "/settings":  # a form that stays put; the other two re-render their tables live
            # The next Tab goes on inside main, past the header's navigation.
            await page.keyboard.press("Tab")
            focus_in_main = await page.evaluate(
                "document.querySelector('main').contains(document.activeElement)"
            )
            assert focus_in_main, path
