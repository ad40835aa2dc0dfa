"""What the dashboard tests do in the browser: sign in through the form, keep a screenshot of
a page, run axe-core on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash_world import DashWorld

from fixative.testing.browser import artifacts_dir

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# the accessibility basics checked on every page: every control labelled, text readable
AXE_RULES = ["label", "color-contrast", "image-alt", "button-name", "link-name", "select-name"]


def sign_in(context: Any, world: DashWorld, who: str) -> Any:
    """A page signed in as ``who`` through the sign-in form, on the datastacks page."""
    page = context.new_page()
    page.goto(world.url + "/dashboard/")
    page.get_by_label("API token").fill(world.tokens[who])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Datastacks").wait_for()
    # the heading shows while the page still parses; its buttons work once the script has run
    page.wait_for_load_state("load")
    return page


def screenshot(page: Any, backend: str, name: str) -> Path:
    shot = artifacts_dir("dashboard", backend) / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    return shot


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of ``AXE_RULES`` on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async (rules) => {
            const result = await axe.run(document, {runOnly: {type: "rule", values: rules}});
            return result.violations.map((v) => ({
                id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        AXE_RULES,
    )
    return found
